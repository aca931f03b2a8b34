"""Calibrated probabilities: the temperature fit, the calibration figures, and a calibrated model
that keeps its labels while its probabilities move."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from finsentry.config import Settings
from finsentry.entities import name_spans
from finsentry.schema import Target
from finsentry.scoring import load_scorer
from finsentry.scoring.lexical import log_softmax
from finsentry.scoring.modeldir import ModelSpec, default_model_dir
from finsentry.training.calibration import calibration_metrics, fit_temperature


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.5, 6.0])
def test_the_fit_finds_the_temperature_the_labels_were_drawn_with(true_t: float) -> None:
    rng = np.random.default_rng(int(true_t * 10))
    logits = rng.normal(0.0, 4.0, size=(20000, 3))
    probs = np.exp(log_softmax(logits / true_t))
    truth = np.array([rng.choice(3, p=row) for row in probs])
    assert fit_temperature(logits, truth) == pytest.approx(true_t, rel=0.06)


def test_calibration_figures_on_a_worked_example() -> None:
    probs = np.array([[0.9, 0.05, 0.05], [0.6, 0.3, 0.1]])
    found = calibration_metrics(probs, [0, 1])
    # bins of width 1/15: 0.9 and 0.6 fall apart; right at 0.9, wrong at 0.6
    assert found.ece == pytest.approx(0.5 * 0.1 + 0.5 * 0.6)
    assert found.nll == pytest.approx(-(math.log(0.9) + math.log(0.3)) / 2)
    assert found.brier == pytest.approx((0.015 + 0.86) / 2)
    assert found.confidence == pytest.approx(0.75) and found.accuracy == 0.5
    assert [(round(lo * 15), n, a) for lo, n, _, a in found.bins] == [(9, 1, 0.0), (13, 1, 1.0)]
    assert found.to_json()["bins"][1] == {"from": 0.8667, "count": 1, "confidence": 0.9, "accuracy": 1.0}
    zero = calibration_metrics(np.array([[1.0, 0.0, 0.0]]), [2])  # shown to 6 decimals
    assert zero.nll == pytest.approx(-math.log(1e-6))


HEADLINES = [
    ("Infosys gains as Wipro slips on weak guidance", {"Infosys": "positive", "Wipro": "negative"}),
    ("Tata Steel plant fire halts output; JSW unaffected", {"Tata Steel": "negative", "JSW": "neutral"}),
    ("HDFC Bank profit jumps 20%", {"HDFC Bank": "positive"}),
    ("Maruti recalls 40,000 cars over faulty airbags", {"Maruti": "negative"}),
    ("Cipla to hold board meeting on Friday", {"Cipla": "neutral"}),
    ("ONGC output falls for third month", {"ONGC": "negative"}),
    ("Titan beats estimates, Trent misses", {"Titan": "positive", "Trent": "negative"}),
    ("Adani Ports wins new terminal contract", {"Adani Ports": "positive"}),
]  # fmt: skip


def _labelled(path: Path) -> Path:
    rows = ["id,title,entities"]
    for i, (title, labels) in enumerate(HEADLINES):
        rows.append(f'{i},"{title}","{json.dumps(labels).replace(chr(34), chr(34) * 2)}"')
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("calibrated") / "model"
    shutil.copytree(default_model_dir(), directory)
    spec = ModelSpec.read(directory)
    if spec.calibration is not None:  # start from plain probabilities
        from dataclasses import replace

        replace(spec, calibration=None).write(directory)
    return directory


def test_calibrate_writes_temperatures_that_keep_labels_and_move_probabilities(
    model_copy: Path, tmp_path: Path
) -> None:
    from finsentry.cli.models import calibrate

    data = _labelled(tmp_path / "held_out.csv")
    args = ["--model", str(model_copy), "--task", "all", "--data", str(data), "--backend", "onnx"]
    runner = CliRunner()
    dry = runner.invoke(calibrate, [*args, "--min-examples", "10", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "entity: temperature" in dry.output and "nothing written (--dry-run)" in dry.output
    assert ModelSpec.read(model_copy).calibration is None
    few = runner.invoke(calibrate, [*args, "--min-examples", "200"])
    assert "fewer than --min-examples: not fitted" in few.output
    assert ModelSpec.read(model_copy).calibration is None
    done = runner.invoke(calibrate, [*args, "--min-examples", "10"])
    assert done.exit_code == 0, done.output
    spec = ModelSpec.read(model_copy)
    assert set(spec.temperatures) == {"entity"}  # the headlines whose companies agree: too few
    assert spec.calibration is not None and spec.calibration["data"] == ["held_out.csv"]
    texts = [title for title, _ in HEADLINES]
    targets = [[Target(n, name_spans(t, n)) for n in labels] for t, labels in HEADLINES]
    named = sum(bool(target.spans) for row in targets for target in row)
    temperature = spec.temperatures["entity"]
    assert temperature > 0 and spec.calibration["tasks"]["entity"]["examples"] == named

    scorer = load_scorer(Settings(model=str(model_copy), backend="onnx", cpu_threads=1))
    raw = scorer.probabilities(texts, targets, calibrated=False)
    shown = scorer.probabilities(texts, targets)
    expected = np.exp(log_softmax(np.log(raw["entity"]) / temperature))
    assert np.allclose(shown["entity"], expected, atol=1e-9)
    assert (shown["entity"].argmax(axis=1) == raw["entity"].argmax(axis=1)).all()
    assert np.array_equal(shown["sentiment"], raw["sentiment"])  # not fitted: untouched


def test_a_directory_that_is_not_a_finsentry_model_is_refused(tmp_path: Path) -> None:
    from finsentry.cli.models import calibrate

    data = _labelled(tmp_path / "held_out.csv")
    found = CliRunner().invoke(
        calibrate, ["--model", str(tmp_path), "--task", "entity", "--data", str(data)]
    )
    assert found.exit_code == 2 and "neither a finsentry model" in found.output


def test_temperatures_come_from_the_spec_and_must_be_positive() -> None:
    spec = ModelSpec.from_json(
        {
            "name": "m", "version": "1", "backbone": "b", "heads": {"sentiment": ["negative", "neutral", "positive"]},
            "calibration": {"tasks": {"sentiment": {"temperature": 2.0}, "topic": {"temperature": 3.0}}},
        }
    )  # fmt: skip
    assert spec.temperatures == {"sentiment": 2.0}  # a head the model lacks is ignored
    assert ModelSpec.from_json(spec.to_json()).calibration == spec.calibration
    from finsentry.scoring.engine import Scorer

    plain = load_scorer(Settings(model="default", backend="onnx", cpu_threads=1))
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        Scorer(
            plain.runner,
            plain.tokenizer,
            plain.labels,
            model_id="x",
            temperatures={"sentiment": 0.0},
        )


def test_evaluate_reports_calibration(tmp_path: Path) -> None:
    from finsentry.cli.models import evaluate

    data = _labelled(tmp_path / "held_out.csv")
    result = CliRunner().invoke(
        evaluate,
        ["--task", "all", "--data", str(data), "--backend", "onnx", "--json",
         "--report", str(tmp_path / "r")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    tasks = json.loads(result.output)["tasks"]
    for task in ("entity", "sentiment"):
        figures = tasks[task]["calibration"]
        assert figures["count"] == tasks[task]["count"]
        assert 0.0 <= figures["ece"] <= 1.0 and figures["nll"] >= 0.0
        assert 0.0 <= figures["brier"] <= 2.0 and 1 / 3 <= figures["mean_confidence"] <= 1.0
    report = (tmp_path / "r.md").read_text()
    assert "Calibration: ECE" in report and "| confidence | examples | mean confidence |" in report
    for task in ("entity", "sentiment"):
        figures = tasks[task]["calibration"]
        assert sum(b["count"] for b in figures["bins"]) == tasks[task]["count"]


def test_scoring_in_chunks_gives_the_figures_of_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    from finsentry.training import chunks

    scorer = load_scorer(Settings(model="default", backend="onnx", cpu_threads=1))
    texts = [title for title, _ in HEADLINES]
    targets = [[Target(n, name_spans(t, n)) for n in labels] for t, labels in HEADLINES]
    whole = scorer.probabilities(texts, targets)
    monkeypatch.setattr(chunks, "CHUNK", 3)  # 8 texts: chunks of 3, 3 and 2
    parts = chunks.probabilities(scorer, texts, targets)
    assert set(parts) == set(whole)
    for task in whole:
        assert np.array_equal(parts[task], whole[task], equal_nan=True)
    assert chunks.scores(scorer, texts, targets) == scorer.score(texts, targets)


def test_a_plain_hugging_face_classifier_is_calibrated_beside_its_files(
    tmp_path: Path, tiny_backbone_dir: Path
) -> None:
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from finsentry.cli.models import calibrate

    model = tmp_path / "hub-model"
    config = BertConfig.from_pretrained(str(tiny_backbone_dir))
    config.num_labels = 3
    config.id2label = {0: "negative", 1: "neutral", 2: "positive"}
    config.label2id = {v: k for k, v in config.id2label.items()}
    BertForSequenceClassification(config).save_pretrained(str(model))
    AutoTokenizer.from_pretrained(str(tiny_backbone_dir)).save_pretrained(str(model))
    rows = ["text,label"] + [
        f"{text} ({i}),{label}"
        for i in range(10)
        for text, label in (("Profit soars", "positive"), ("Shares sink", "negative"), ("Meeting on Friday", "neutral"))
    ]  # fmt: skip
    data = tmp_path / "held_out.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    settings = Settings(model=str(model), device="cpu", backend="torch", max_length=32)
    plain = load_scorer(settings).probabilities(["Profit soars (0)", "Shares sink (3)"])
    found = CliRunner().invoke(
        calibrate,
        ["--model", str(model), "--task", "sentiment", "--data", str(data), "--min-examples", "10",
         "--backend", "torch"],
    )  # fmt: skip
    assert found.exit_code == 0, found.output
    record = json.loads((model / "finsentry_calibration.json").read_text())
    temperature = record["tasks"]["sentiment"]["temperature"]
    assert temperature > 0 and record["tasks"]["sentiment"]["examples"] == 30
    shown = load_scorer(settings).probabilities(["Profit soars (0)", "Shares sink (3)"])
    expected = np.exp(log_softmax(np.log(plain["sentiment"]) / temperature))
    assert np.allclose(shown["sentiment"], expected, atol=1e-6)
