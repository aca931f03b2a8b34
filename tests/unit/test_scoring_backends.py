"""The two scoring backends: torch (fp32) and onnx (int8 ONNX Runtime).

Both must give the same labels on clear headlines with close probabilities, score sentiment towards
named companies, and give stored scores that do not depend on how texts are batched (issue 13,
item 5): on the CPU each text is computed alone, and :meth:`Scorer.score` rounds probabilities to
``PROBABILITY_DECIMALS`` decimals at one place.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from finsentry.cli import main
from finsentry.config import Settings
from finsentry.schema import Target
from finsentry.scoring import Scorer, load_scorer
from finsentry.scoring.engine import PROBABILITY_DECIMALS
from finsentry.scoring.loader import BackendError, choose_backend
from finsentry.scoring.modeldir import ModelSpec, default_model_dir

CLEAR = [
    ("Shares plunge after profit warning", "negative"),
    ("Bank shares tumble on fraud investigation", "negative"),
    ("Lender files for bankruptcy protection", "negative"),
    ("Shares soar after record quarterly earnings", "positive"),
    ("Software maker beats estimates and raises guidance", "positive"),
    ("Biotech jumps 30% on positive trial results", "positive"),
    ("Company to hold annual shareholder meeting on May 5", "neutral"),
    ("Retailer to report first-quarter results on Thursday", "neutral"),
    ("Bank names new chief financial officer", "neutral"),
]

SUBJECTS = ["Acme", "Globex", "Initech", "Umbrella Corp", "Stark Industries", "the lender"]
EVENTS = [
    "shares plunge after a profit warning",
    "beats estimates and raises its full-year guidance",
    "to hold its annual meeting next Tuesday",
    "cuts 2,000 jobs as demand for its chips collapses",
    "wins a $3 billion defence contract, sending the stock up 8%",
    "names a new chief executive",
    "faces a regulatory probe over accounting at its Asian unit",
]


def _headlines(n: int, seed: int = 5) -> list[str]:
    """``n`` varied headlines of different lengths (so batches pad differently)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        text = f"{rng.choice(SUBJECTS)} {rng.choice(EVENTS)}"
        if rng.random() < 0.4:
            text += f"; {rng.choice(SUBJECTS)} {rng.choice(EVENTS)}"
        out.append(text)
    return out


@pytest.fixture(scope="module", params=["torch", "onnx"])
def scorer(request: pytest.FixtureRequest) -> Scorer:
    return load_scorer(
        Settings(model="default", device="cpu", backend=request.param, cpu_threads=1)
    )


def test_auto_takes_onnx_on_the_cpu_when_the_model_ships_an_export() -> None:
    spec = ModelSpec.read(default_model_dir())
    assert spec.onnx is not None and (default_model_dir() / spec.onnx["file"]).is_file()
    assert choose_backend("auto", "cpu", spec) == "onnx"
    assert choose_backend("torch", "cpu", spec) == "torch"
    bare = ModelSpec(name="m", version="1", backbone="minilm", heads={"sentiment": []})
    assert choose_backend("auto", "cpu", bare) == "torch"
    with pytest.raises(BackendError, match="export-onnx"):
        choose_backend("onnx", "cpu", bare)
    with pytest.raises(BackendError, match="runs on the CPU"):
        choose_backend("onnx", "cuda", spec)


def test_the_onnx_tokenizer_gives_the_transformers_tokens_and_offsets() -> None:
    """The onnx backend tokenizes with ``tokenizers`` alone: ids, truncation and character
    offsets (which place entity mentions) must be exactly those of the transformers tokenizer."""
    torch_scorer, onnx_scorer = (
        load_scorer(Settings(model="default", device="cpu", backend=name, max_length=24))
        for name in ("torch", "onnx")
    )
    texts = [
        *_headlines(20, seed=2),
        "Société Générale cuts 900 jobs; Nestlé’s CEO — “no comment” 🚀",
        "a very long headline that goes on " * 8,
        "$AAPL -3.5% after-hours (Q3 EPS $1.26 vs. $1.19 est.)",
    ]
    assert onnx_scorer._encode(texts, offsets=True) == torch_scorer._encode(texts, offsets=True)
    assert max(len(row) for row in onnx_scorer.tokenize(texts)) == 24


def test_both_backends_give_the_same_labels_and_close_probabilities() -> None:
    torch_scorer, onnx_scorer = (
        load_scorer(Settings(model="default", device="cpu", backend=name, cpu_threads=1))
        for name in ("torch", "onnx")
    )
    assert (torch_scorer.backend, onnx_scorer.backend) == ("torch", "onnx")
    texts = [text for text, _ in CLEAR]
    a, b = torch_scorer.score(texts), onnx_scorer.score(texts)
    assert [s.sentiment for s in a] == [label for _, label in CLEAR]
    assert [s.sentiment for s in b] == [s.sentiment for s in a]
    assert [s.topic for s in b] == [s.topic for s in a]
    for x, y in zip(a, b, strict=True):
        assert np.allclose(
            [x.negative, x.neutral, x.positive], [y.negative, y.neutral, y.positive], atol=0.1
        )


def test_each_backend_scores_two_companies_of_opposite_fortune(scorer: Scorer) -> None:
    text = "Infosys gains as Wipro slips"
    targets = [[Target("Infosys", ((0, 7),)), Target("Wipro", ((16, 21),))]]
    (result,) = scorer.score([text], targets)
    infosys, wipro = result.targets
    assert (infosys.sentiment, infosys.basis) == ("positive", "entity")
    assert (wipro.sentiment, wipro.basis) == ("negative", "entity")


def test_stored_scores_are_identical_for_batch_sizes_1_7_32_and_256(scorer: Scorer) -> None:
    texts = _headlines(256)
    targets = [[Target("Acme", ((0, 4),))] if t.startswith("Acme") else [] for t in texts]
    runs = []
    for size in (1, 7, 32, 256):
        scored = []
        for start in range(0, len(texts), size):
            scored += scorer.score(texts[start : start + size], targets[start : start + size])
        runs.append(scored)
    assert all(run == runs[0] for run in runs[1:])
    # and a token budget that cuts the texts into other micro-batches changes nothing either
    budget = scorer.token_budget
    try:
        scorer.token_budget = 64
        assert scorer.score(texts, targets) == runs[0]
    finally:
        scorer.token_budget = budget
    # rounded at one place: no stored probability has more than PROBABILITY_DECIMALS decimals
    values = [v for s in runs[0] for v in (s.negative, s.neutral, s.positive, s.topic_prob)]
    assert all(round(v, PROBABILITY_DECIMALS) == v for v in values)
    assert any(round(v, PROBABILITY_DECIMALS - 1) != v for v in values)
    # before rounding too: every probability, per-company ones included, to the last bit
    whole = scorer.probabilities(texts, targets)
    for size in (1, 7, 32):
        parts = [
            scorer.probabilities(texts[k : k + size], targets[k : k + size])
            for k in range(0, len(texts), size)
        ]
        for task, rows in whole.items():
            joined = np.concatenate([p[task] for p in parts if task in p])
            assert np.array_equal(joined, rows, equal_nan=True), (task, size)


def test_export_of_a_trained_model_scores_like_its_network(
    tmp_path: Path, tiny_backbone_dir: Path
) -> None:
    """A freshly built model (random heads, entity head included) exports, records its export,
    and its onnx backend agrees with the torch backend."""
    import torch

    from finsentry.scoring.network import MultiTaskNetwork, load_backbone

    torch.manual_seed(3)
    backbone, _ = load_backbone(str(tiny_backbone_dir))
    heads = {
        "sentiment": ["negative", "neutral", "positive"],
        "topic": ["a", "b"],
        "entity": ["negative", "neutral", "positive"],
    }
    network = MultiTaskNetwork(backbone, heads)
    for head in network.heads.values():
        torch.nn.init.normal_(head.weight, std=2.0)  # spread the logits: labels mean something
    out = tmp_path / "m"
    out.mkdir()
    network.save_heads(out)
    ModelSpec(name="m", version="0.1.0", backbone=str(tiny_backbone_dir), heads=heads).write(out)
    with pytest.raises(BackendError, match="export-onnx"):
        load_scorer(Settings(model=str(out), device="cpu", backend="onnx"))
    done = CliRunner().invoke(main, ["export-onnx", str(out)])
    assert done.exit_code == 0, done.output
    assert "model.int8.onnx" in done.output
    spec = ModelSpec.read(out)
    assert spec.onnx is not None and spec.onnx["file"] == "model.int8.onnx"
    assert (out / "tokenizer.json").is_file() and spec.to_json()["format"] == 3

    texts = _headlines(24, seed=9)
    targets = [[Target("Acme", ((0, 4),))] if t.startswith("Acme") else [] for t in texts]
    a, b = (
        load_scorer(Settings(model=str(out), device="cpu", backend=name, cpu_threads=1))
        .score(texts, targets)
        for name in ("torch", "onnx")
    )
    agree = sum(x.sentiment == y.sentiment for x, y in zip(a, b, strict=True)) / len(texts)
    assert agree >= 0.9
    for x, y in zip(a, b, strict=True):
        assert abs(x.positive - y.positive) < 0.15
        assert [t.basis for t in x.targets] == [t.basis for t in y.targets]
        for s, t in zip(x.targets, y.targets, strict=True):
            assert abs(s.positive - t.positive) < 0.15
