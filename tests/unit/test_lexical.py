"""The lexical head (word n-gram TF-IDF + logistic regression) and warm starts from a model."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from finsentry.scoring.lexical import LexicalHead, fit_lexical, mix, ngrams
from finsentry.training.data import Example

WORDS = {
    "negative": ["plunge", "slumps", "warning", "downgrade"],
    "positive": ["soar", "beats", "record", "upgrade"],
    "neutral": ["meeting", "schedule", "conference", "filing"],
}
FILLER = ["shares", "company", "stock", "group", "update", "today", "report", "says"]
SENTIMENT = ["negative", "neutral", "positive"]


def labelled(n: int, seed: int) -> list[Example]:
    """Texts whose class is decided by one cue word among neutral filler words."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        label = rng.choice(SENTIMENT)
        words = rng.sample(FILLER, 3) + [rng.choice(WORDS[label])]
        rng.shuffle(words)
        out.append(Example(" ".join(words).capitalize(), "sentiment", label))
    return out


def fitted(examples: list[Example], **kwargs: float) -> LexicalHead:
    return fit_lexical(
        [e.text for e in examples],
        [e.task for e in examples],
        [e.label for e in examples],
        {"sentiment": SENTIMENT},
        **kwargs,  # type: ignore[arg-type]
    )


def test_ngrams_lowercase_words_of_two_or_more_characters_and_their_pairs() -> None:
    assert ngrams("Apple CUTS guidance, a 5% drop", 2) == [
        "apple",
        "cuts",
        "guidance",
        "drop",
        "apple cuts",
        "cuts guidance",
        "guidance drop",
    ]
    assert ngrams("Ölpreis fällt", 1) == ["ölpreis", "fällt"]


def test_fit_keeps_frequent_ngrams_with_smoothed_idf_and_learns_the_cue_words() -> None:
    train = labelled(300, seed=1)
    head = fitted(train)
    texts = [e.text for e in train]
    df = sum("plunge" in ngrams(t, 2) for t in texts)
    assert float(head.idf[head.index("plunge")]) == pytest.approx(
        math.log((1 + len(texts)) / (1 + df)) + 1.0, rel=1e-6
    )
    # a pair seen once is below min_df=2 and is not a feature
    once = [
        g
        for g in {g for t in texts for g in ngrams(t, 2)}
        if sum(g in ngrams(t, 2) for t in texts) == 1
    ]
    assert once and not any(head.contains(g) for g in once)

    test = labelled(200, seed=2)
    log_probs = head.log_probs([e.text for e in test])["sentiment"]
    assert np.allclose(np.exp(log_probs).sum(axis=1), 1.0, atol=1e-5)
    predicted = [SENTIMENT[i] for i in log_probs.argmax(axis=1)]
    assert sum(p == e.label for p, e in zip(predicted, test, strict=True)) / len(test) > 0.95
    # text without a known n-gram falls back to the bias: the class prior, not a crash
    assert head.log_probs(["zzz qqq"])["sentiment"].shape == (1, 3)


def test_the_fit_reaches_the_optimum_of_its_objective() -> None:
    """At the returned weights the gradient of mean CE + ||W||^2 / (2 c n) is (near) zero."""
    train = labelled(120, seed=3)
    head = fitted(train, c=1.0)
    ids, values, offsets = (torch.from_numpy(a) for a in head.features([e.text for e in train]))
    weight = torch.from_numpy(head.weights["sentiment"].copy()).requires_grad_(True)
    bias = torch.from_numpy(head.biases["sentiment"].copy()).requires_grad_(True)
    logits = (
        torch.nn.functional.embedding_bag(
            ids, weight, offsets, mode="sum", per_sample_weights=values
        )
        + bias
    )
    y = torch.tensor([SENTIMENT.index(e.label) for e in train])
    loss = torch.nn.functional.cross_entropy(logits, y) + (weight**2).sum() / (2 * 1.0 * len(train))
    loss.backward()  # type: ignore[no-untyped-call]
    assert weight.grad is not None and bias.grad is not None
    assert weight.grad.abs().max().item() < 1e-4 and bias.grad.abs().max().item() < 1e-4


def test_save_and_load_give_the_same_scores(tmp_path: Path) -> None:
    head = fitted(labelled(150, seed=4), weight=0.3)
    spec = head.save(tmp_path)
    again = LexicalHead.load(tmp_path, json.loads(json.dumps(spec)))
    texts = [e.text for e in labelled(20, seed=5)]
    assert again.weight == 0.3 and again.vocab == head.vocab
    assert np.allclose(again.log_probs(texts)["sentiment"], head.log_probs(texts)["sentiment"])
    # the file holds keys of the n-grams, not their text
    assert b"plunge" not in (tmp_path / "lexical.safetensors").read_bytes()
    with pytest.raises(ValueError, match="upgrade finsentry"):
        LexicalHead.load(tmp_path, {**spec, "keys": "other"})


def test_mix_is_the_weighted_geometric_mean() -> None:
    logits = np.array([[2.0, 0.0, -1.0]])
    lexical = np.log(np.array([[0.1, 0.3, 0.6]]))
    network = np.exp(logits) / np.exp(logits).sum()
    expected = network**0.75 * np.exp(lexical) ** 0.25
    assert np.allclose(mix(logits, lexical, 0.25), expected / expected.sum(), atol=1e-12)
    with pytest.raises(ValueError, match="between 0 and 1"):
        fitted(labelled(30, seed=6), weight=1.0)


def test_scorer_mixes_the_lexical_head_and_stays_batch_invariant(tiny_backbone_dir: Path) -> None:
    from transformers import AutoTokenizer

    from finsentry.scoring.engine import Scorer
    from finsentry.scoring.network import MultiTaskNetwork, load_backbone

    torch.manual_seed(0)
    backbone, _ = load_backbone(str(tiny_backbone_dir))
    network = MultiTaskNetwork(backbone, {"sentiment": SENTIMENT})
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_backbone_dir))
    head = fitted(labelled(200, seed=7), weight=0.5)
    plain = Scorer(network, tokenizer, network.labels, model_id="t", device=torch.device("cpu"))
    mixed = Scorer(
        network, tokenizer, network.labels, model_id="t", device=torch.device("cpu"), lexical=head
    )
    texts = [e.text for e in labelled(12, seed=8)] + ["A much longer headline " * 5]
    p_net = plain.probabilities(texts)["sentiment"]
    p_lex = np.exp(head.log_probs(texts)["sentiment"])
    expected = np.sqrt(p_net * p_lex)
    expected /= expected.sum(axis=1, keepdims=True)
    together = mixed.probabilities(texts)["sentiment"]
    assert np.allclose(together, expected, atol=1e-5)
    alone = np.vstack([mixed.probabilities([t])["sentiment"] for t in texts])
    assert np.allclose(alone, together, atol=1e-5)
    # the cue words now move the prediction where the untrained network could not
    assert not np.allclose(together, p_net, atol=1e-3)


def _config(base: Path, **overrides: object) -> object:
    from finsentry.training.train import TrainConfig

    values: dict[str, object] = {
        "task": "sentiment",
        "base": str(base),
        "lora_r": 0,
        "epochs": 1,
        "max_steps": 3,
        "batch_size": 16,
        "max_length": 16,
        "device": "cpu",
        "lexical_weight": 0.0,
    }
    values.update(overrides)
    return TrainConfig(**values)  # type: ignore[arg-type]


def _a_then_b(tmp_path: Path, backbone: Path, n: int, seed: int, **b: object) -> tuple[Any, Any]:
    """Train model a from ``backbone``, then model b from a with nothing moving (rate 0)."""
    from finsentry.training.train import train

    examples = labelled(n, seed=seed)
    valid = examples[: n // 4]
    first = train(examples, valid, _config(backbone, name="a"), tmp_path / "a", progress=False)  # type: ignore[arg-type]
    b_config = _config(tmp_path / "a", name="b", lr=0.0, head_lr=0.0, **b)
    second = train(examples, valid, b_config, tmp_path / "b", progress=False)  # type: ignore[arg-type]
    return first, second


def _same_scores(tmp_path: Path, seed: int, atol: float) -> bool:
    """Models a and b (of :func:`_a_then_b`) give the same sentiment probabilities."""
    from finsentry.config import Settings
    from finsentry.scoring import load_scorer

    texts = [e.text for e in labelled(10, seed=seed)]
    a, b = (
        load_scorer(Settings(model=str(tmp_path / name), device="cpu", max_length=16))
        for name in ("a", "b")
    )
    return bool(
        np.allclose(
            a.probabilities(texts)["sentiment"], b.probabilities(texts)["sentiment"], atol=atol
        )
    )


def test_training_continues_from_a_finsentry_model(tmp_path: Path, tiny_backbone_dir: Path) -> None:
    from safetensors.torch import load_file

    # from model a only the top layer of b trains, and nothing moves: b must still carry a's
    # embeddings and lower layer, and its reused head
    first, second = _a_then_b(tmp_path, tiny_backbone_dir, 64, seed=9, train_layers=1)
    assert first.spec.backbone_weights == "backbone.safetensors"
    assert second.spec.backbone == str(tiny_backbone_dir)
    assert second.spec.extra["started_from"] == "a@0.1.0"
    saved = load_file(str(tmp_path / "b" / "backbone.safetensors"))
    assert any(k.startswith("embeddings.") for k in saved)
    assert any(k.startswith("encoder.layer.0.") for k in saved)
    assert _same_scores(tmp_path, seed=10, atol=1e-5)


def test_train_lexical_adds_a_head_to_a_model_directory(
    tmp_path: Path, tiny_backbone_dir: Path
) -> None:
    from finsentry.cli.models import train_lexical
    from finsentry.config import Settings
    from finsentry.scoring import load_scorer
    from finsentry.scoring.modeldir import ModelSpec
    from finsentry.training.train import train

    examples = labelled(90, seed=11)
    train(examples, examples[:15], _config(tiny_backbone_dir), tmp_path / "m", progress=False)  # type: ignore[arg-type]
    spec = ModelSpec.read(tmp_path / "m")
    assert spec.lexical is None and spec.to_json()["format"] == 1
    # train wrote the int8 ONNX export too, and it scores
    assert spec.onnx is not None and (tmp_path / "m" / spec.onnx["file"]).is_file()
    onnx = load_scorer(Settings(model=str(tmp_path / "m"), device="cpu", backend="onnx"))
    assert len(onnx.score(["Shares plunge"])) == 1
    data = tmp_path / "train.csv"
    data.write_text(
        "text,label\n" + "".join(f"{e.text},{e.label}\n" for e in examples), encoding="utf-8"
    )
    texts = [e.text for e in labelled(30, seed=12)]
    settings = Settings(model=str(tmp_path / "m"), device="cpu", max_length=16)
    before = load_scorer(settings).probabilities(texts)["sentiment"]
    # temperatures fitted before: the sentiment one goes with the old head, others stay
    from dataclasses import replace

    fitted = {"tasks": {"sentiment": {"temperature": 2.0}, "entity": {"temperature": 3.0}}}
    replace(spec, calibration=fitted).write(tmp_path / "m")

    runner = CliRunner()
    result = runner.invoke(
        train_lexical,
        [
            "--model",
            str(tmp_path / "m"),
            "--data",
            str(data),
            "--task",
            "sentiment",
            "--weight",
            "0.4",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    spec = ModelSpec.read(tmp_path / "m")
    assert spec.lexical is not None and spec.lexical["weight"] == 0.4
    assert "removed the temperatures of sentiment" in result.output
    assert spec.calibration == {"tasks": {"entity": {"temperature": 3.0}}}
    assert json.loads((tmp_path / "m" / "finsentry_model.json").read_text())["format"] == 2
    scorer = load_scorer(settings)
    assert scorer.lexical is not None
    after = scorer.probabilities(texts)["sentiment"]
    truth = [SENTIMENT.index(e.label) for e in labelled(30, seed=12)]
    assert not np.allclose(before, after, atol=1e-3)
    assert (after.argmax(axis=1) == truth).mean() > (before.argmax(axis=1) == truth).mean()

    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nsomething odd,sideways\n", encoding="utf-8")
    refused = runner.invoke(
        train_lexical, ["--model", str(tmp_path / "m"), "--data", str(bad), "--task", "sentiment"]
    )
    assert refused.exit_code == 2 and "sideways" in refused.output


def test_a_newer_model_format_is_refused_with_advice(tmp_path: Path) -> None:
    from finsentry.scoring.modeldir import ModelSpec

    (tmp_path / "finsentry_model.json").write_text(
        json.dumps({"name": "x", "version": "1", "backbone": "b", "heads": {}, "format": 4})
    )
    with pytest.raises(ValueError, match="upgrade finsentry"):
        ModelSpec.read(tmp_path)


def test_lora_from_a_finsentry_model_keeps_that_models_weights(
    tmp_path: Path, tiny_backbone_dir: Path
) -> None:
    from safetensors.torch import load_file

    _, adapted = _a_then_b(tmp_path, tiny_backbone_dir, 48, seed=13, lora_r=2)
    assert adapted.spec.adapter == "adapter" and adapted.spec.backbone_weights
    saved = load_file(str(tmp_path / "b" / "backbone.safetensors"))
    assert "encoder.layer.0.attention.self.query.weight" in saved  # plain names, not peft's
    assert _same_scores(tmp_path, seed=14, atol=1e-3)
