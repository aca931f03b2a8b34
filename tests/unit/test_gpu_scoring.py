"""The GPU benchmark builds the default model without its backbone package (the GPU machine has
none): everything but the word embeddings is the default model's, so with the pretrained word
embeddings copied in it scores exactly as the model finsentry loads."""

from __future__ import annotations

import numpy as np
import torch
from benchmarks import gpu_scoring

from finsentry.config import Settings
from finsentry.entities import name_spans
from finsentry.schema import Target
from finsentry.scoring import load_scorer

TEXTS = [
    "Infosys gains as Wipro slips",
    "Intuitive Surgical cyberattack paralyses systems worldwide",
    "Fed holds rates steady, signals patience",
]
NAMES = [["Infosys", "Wipro"], ["Intuitive Surgical"], []]


def test_the_default_model_rebuilt_from_its_shape_scores_as_the_loaded_one() -> None:
    torch.manual_seed(0)
    cpu = torch.device("cpu")
    rebuilt = gpu_scoring.default_scorer_from_config(cpu, budget=2048, max_length=64)
    loaded = load_scorer(
        Settings(model="default", device="cpu", backend="torch", cpu_threads=1, max_length=64)
    )
    pairs = zip(TEXTS, NAMES, strict=True)
    targets = [[Target(n, name_spans(t, n)) for n in names] for t, names in pairs]
    before = rebuilt.probabilities(TEXTS, targets)
    expected = loaded.probabilities(TEXTS, targets)
    assert not np.allclose(before["sentiment"], expected["sentiment"], atol=1e-3)

    pretrained = loaded.network.backbone.embeddings.word_embeddings.weight
    with torch.no_grad():
        rebuilt.network.backbone.embeddings.word_embeddings.weight.copy_(pretrained)
    after = rebuilt.probabilities(TEXTS, targets)
    assert set(after) == set(expected) == {"sentiment", "topic", "entity"}
    for task, values in expected.items():
        np.testing.assert_allclose(after[task], values, atol=1e-5, err_msg=task)
