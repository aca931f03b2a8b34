"""Training data, metrics, and the train -> score -> evaluate workflow on a tiny generated set."""

from __future__ import annotations

import csv
import json
import os
import random
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from finsentry.training.data import (
    DataError,
    Example,
    label_sets,
    load_examples,
    parse_label_names,
    split_validation,
)
from finsentry.training.metrics import classification_metrics

NEG = [
    "Shares plunge after profit warning",
    "Lender slumps on fraud probe",
    "Retailer cuts outlook",
]
POS = ["Shares soar on record earnings", "Chipmaker beats estimates", "Airline raises guidance"]
NEU = ["Company to hold annual meeting", "CEO to speak at conference", "Results due on Tuesday"]
TOPICS = {
    "Earnings": ["quarterly profit rises", "revenue misses forecasts", "EPS tops view"],
    "Macro": ["inflation cools in May", "jobless claims fall", "GDP grows 2%"],
}


def write_csv(
    path: Path, rows: list[tuple[str, object]], extra: dict[str, list[str]] | None = None
) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        columns = ["text", "label", *(extra or {})]
        writer = csv.writer(f)
        writer.writerow(columns)
        for i, (text, label) in enumerate(rows):
            writer.writerow([text, label, *((extra or {})[c][i] for c in extra or {})])
    return path


def sentiment_rows(n: int, seed: int = 0) -> list[tuple[str, object]]:
    """Ids as in twitter-financial-news: 0 bearish, 1 bullish, 2 neutral."""
    rng = random.Random(seed)
    rows: list[tuple[str, object]] = []
    for i in range(n):
        for label, pool in ((0, NEG), (1, POS), (2, NEU)):
            rows.append((f"{rng.choice(pool)} ({i})", label))
    return rows


def test_label_ids_names_and_synonyms(tmp_path: Path) -> None:
    names = parse_label_names(["sentiment=Bearish,Bullish,Neutral"])
    path = write_csv(
        tmp_path / "s.csv",
        [("a &amp; b https://t.co/x", 0), ("c", "1"), ("d", "neutral"), ("e", "Bullish")],
    )
    examples = load_examples(path, "sentiment", names)
    assert [e.label for e in examples] == ["negative", "positive", "neutral", "positive"]
    assert examples[0].text == "a & b"  # normalised as the pipeline does
    with pytest.raises(DataError, match="--label-names"):
        load_examples(path, "sentiment", {})
    with pytest.raises(DataError, match="outside"):
        load_examples(write_csv(tmp_path / "bad.csv", [("x", 7)]), "sentiment", names)


def test_topic_names_from_file_and_task_column(tmp_path: Path) -> None:
    classes = tmp_path / "classes.txt"
    classes.write_text("Earnings\nMacro\n", encoding="utf-8")
    names = parse_label_names([f"topic={classes}"])
    path = write_csv(
        tmp_path / "both.csv",
        [("profit up", 0), ("inflation", 1), ("stock tanks", "negative")],
        extra={"task": ["topic", "topic", "sentiment"]},
    )
    both = load_examples(path, "both", names)
    assert [(e.task, e.label) for e in both] == [
        ("topic", "Earnings"),
        ("topic", "Macro"),
        ("sentiment", "negative"),
    ]
    assert [e.task for e in load_examples(path, "topic", names)] == ["topic", "topic"]
    assert label_sets(both, names) == {
        "sentiment": ["negative", "neutral", "positive"],
        "topic": ["Earnings", "Macro"],
    }
    untagged = write_csv(tmp_path / "plain.csv", [("x", "Earnings")])
    with pytest.raises(DataError, match="tag each file"):
        load_examples(untagged, "both")
    assert load_examples(f"topic={untagged}", "both")[0].task == "topic"
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text(json.dumps({"text": "GDP grows", "label": "Macro"}) + "\n\n", encoding="utf-8")
    assert load_examples(jsonl, "topic") == [Example("GDP grows", "topic", "Macro")]
    bad = tmp_path / "nolabel.csv"
    bad.write_text("body,label\nx,y\n", encoding="utf-8")
    with pytest.raises(DataError, match="lacks column"):
        load_examples(bad, "topic")


def test_validation_split_is_stratified_and_seeded() -> None:
    examples = [Example(f"t{i}", "sentiment", ("negative", "positive")[i % 2]) for i in range(100)]
    train, valid = split_validation(examples, 0.2, seed=1)
    assert len(valid) == 20 and len(train) == 80
    assert sum(e.label == "negative" for e in valid) == 10
    assert split_validation(examples, 0.2, seed=1) == (train, valid)
    assert split_validation(examples, 0.2, seed=2)[1] != valid


def test_metrics_on_a_known_confusion() -> None:
    truth = [0, 0, 0, 1, 1, 2]
    pred = [0, 0, 1, 1, 2, 2]
    m = classification_metrics("t", ["a", "b", "c"], truth, pred)
    assert m.accuracy == pytest.approx(4 / 6)
    assert m.confusion == ((2, 1, 0), (0, 1, 1), (0, 0, 1))
    a, b, c = m.per_class
    assert (a.precision, a.recall) == (pytest.approx(1.0), pytest.approx(2 / 3))
    assert (b.precision, b.recall) == (pytest.approx(0.5), pytest.approx(0.5))
    assert (c.precision, c.recall) == (pytest.approx(0.5), pytest.approx(1.0))
    f1 = [2 * p * r / (p + r) for p, r in ((1, 2 / 3), (0.5, 0.5), (0.5, 1.0))]
    assert m.macro_f1 == pytest.approx(sum(f1) / 3)
    assert "| a |" in m.to_markdown() and m.to_json()["per_class"]["c"]["support"] == 1


@pytest.mark.slow
def test_train_score_evaluate_workflow(tmp_path: Path, tiny_backbone_dir: Path) -> None:
    from finsentry.cli.models import evaluate, train
    from finsentry.cli.score import score
    from finsentry.scoring.modeldir import ModelSpec

    train_csv = write_csv(tmp_path / "train.csv", sentiment_rows(20, seed=1))
    topic_rows = [
        (f"{t} ({i})", name) for i in range(10) for name, pool in TOPICS.items() for t in pool
    ]
    topic_csv = write_csv(tmp_path / "topic.csv", topic_rows)
    valid_csv = write_csv(tmp_path / "valid.csv", sentiment_rows(70, seed=2))  # 210 rows
    topic_valid = write_csv(tmp_path / "topic_valid.csv", topic_rows[:40])
    out = tmp_path / "model"
    runner = CliRunner()
    result = runner.invoke(
        train,
        [
            "--data",
            f"sentiment={train_csv}",
            "--data",
            f"topic={topic_csv}",
            "--task",
            "both",
            "--valid",
            f"sentiment={valid_csv}",
            "--valid",
            f"topic={topic_valid}",
            "--label-names",
            "sentiment=bearish,bullish,neutral",
            "--base",
            str(tiny_backbone_dir),
            "--lora-r",
            "2",
            "--epochs",
            "2",
            "--max-steps",
            "6",
            "--eval-every",
            "3",
            "--batch-size",
            "16",
            "--max-length",
            "24",
            "--out",
            str(out),
            "--quiet",
            "--name",
            "tiny",
            "--version",
            "9.9",
            "--device",
            "cpu",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "sentiment: accuracy" in result.output and "topic: accuracy" in result.output
    spec = ModelSpec.read(out)
    assert spec.model_id == "tiny@9.9" and spec.adapter == "adapter"
    assert spec.heads["topic"] == ["Earnings", "Macro"]
    # calibrated on the validation data: sentiment has its 200 rows, topic (40) keeps plain ones
    assert set(spec.temperatures) == {"sentiment"} and spec.temperatures["sentiment"] > 0
    assert spec.calibration is not None and spec.calibration["tasks"]["sentiment"]["examples"] == 210
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert json.loads((out / "adapter" / "adapter_config.json").read_text())[
        "base_model_name_or_path"
    ] == str(tiny_backbone_dir)
    card = (out / "model_card.md").read_text()
    umask = os.umask(0)
    os.umask(umask)
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.rglob("*") if p.is_file()}
    assert modes and set(modes.values()) == {0o666 & ~umask}, modes  # safetensors alone: 0600
    assert "lora_r | 2" in card and "## Validation metrics" in card
    assert "## Calibration" in card and "* sentiment: " in card

    scored = runner.invoke(
        score,
        ["--model", str(out), "--device", "cpu", "--json", "Shares plunge", ""],
        catch_exceptions=False,
    )
    assert scored.exit_code == 0, scored.output
    first, second = (json.loads(line) for line in scored.output.strip().splitlines())
    assert first["model"] == "tiny@9.9" and first["topic"]["label"] in ("Earnings", "Macro")
    assert abs(sum(first["sentiment"]["probs"].values()) - 1.0) < 1e-4
    assert second == {"text": "", "error": "empty_text"}

    report = tmp_path / "reports" / "eval"
    evaluated = runner.invoke(
        evaluate,
        [
            "--model",
            str(out),
            "--data",
            str(train_csv),
            "--task",
            "sentiment",
            "--label-names",
            "sentiment=bearish,bullish,neutral",
            "--report",
            str(report),
            "--json",
            "--device",
            "cpu",
        ],
        catch_exceptions=False,
    )
    assert evaluated.exit_code == 0, evaluated.output
    payload = json.loads(evaluated.output)
    metrics = payload["tasks"]["sentiment"]
    assert metrics["count"] == 60 and sum(map(sum, metrics["confusion"])) == 60
    assert json.loads(report.with_suffix(".json").read_text())["model"] == "tiny@9.9"
    assert "Confusion matrix" in report.with_suffix(".md").read_text()


@pytest.mark.slow
def test_full_fine_tune_of_the_top_layer_writes_fp16_weights_that_reload(
    tmp_path: Path, tiny_backbone_dir: Path
) -> None:
    from finsentry.config import Settings
    from finsentry.scoring import load_scorer
    from finsentry.training.train import TrainConfig, train

    rows = sentiment_rows(8)
    examples = [
        Example(t, "sentiment", ("negative", "positive", "neutral")[int(str(y))]) for t, y in rows
    ]
    config = TrainConfig(
        task="sentiment",
        base=str(tiny_backbone_dir),
        lora_r=0,
        train_layers=1,
        epochs=1,
        max_steps=3,
        batch_size=8,
        max_length=16,
        device="cpu",
        name="full",
    )
    result = train(examples, examples[:9], config, tmp_path / "m", progress=False)
    assert result.spec.backbone_weights == "backbone.safetensors" and result.spec.adapter is None
    from safetensors.torch import load_file

    saved = load_file(str(tmp_path / "m" / "backbone.safetensors"))
    # only the trained top layer is stored, in fp16; the rest comes from the backbone reference
    assert saved and all(k.startswith("encoder.layer.1.") for k in saved)
    assert {v.dtype for v in saved.values()} == {torch.float16}
    scorer = load_scorer(Settings(model=str(tmp_path / "m"), device="cpu", max_length=16))
    probs = scorer.probabilities([e.text for e in examples[:9]])["sentiment"]
    predicted = probs.argmax(axis=1).tolist()
    index = {name: i for i, name in enumerate(scorer.labels["sentiment"])}
    accuracy = sum(p == index[e.label] for p, e in zip(predicted, examples[:9], strict=True)) / 9
    # the reloaded (fp16-stored) model agrees with what training measured on the same data
    assert accuracy == pytest.approx(result.metrics["sentiment"].accuracy, abs=1 / 9 + 1e-9)


def test_model_commands_show_their_environment_variables() -> None:
    from finsentry.cli.models import evaluate, train, train_lexical
    from finsentry.cli.score import score

    runner = CliRunner()
    for command, names in (
        (
            train,
            [
                "FINSENTRY_TRAIN_DATA",
                "FINSENTRY_TRAIN_LORA_R",
                "FINSENTRY_TRAIN_LAYERS",
                "FINSENTRY_TRAIN_LEXICAL_WEIGHT",
                "FINSENTRY_DEVICE",
            ],
        ),
        (train_lexical, ["FINSENTRY_LEXICAL_MODEL", "FINSENTRY_LEXICAL_WEIGHT"]),
        (evaluate, ["FINSENTRY_EVAL_DATA", "FINSENTRY_MODEL"]),
        (score, ["FINSENTRY_MODEL", "FINSENTRY_TOKEN_BUDGET"]),
    ):
        result = runner.invoke(command, ["--help"], terminal_width=200)
        assert result.exit_code == 0
        for name in names:
            assert name in result.output, (command.name, name)


def test_train_rejects_unusable_data_with_a_usage_error(tmp_path: Path) -> None:
    from finsentry.cli.models import train

    data = write_csv(tmp_path / "s.csv", [("text", 0)])
    result = CliRunner().invoke(
        train, ["--data", str(data), "--task", "sentiment", "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 2
    assert "--label-names" in result.output


UP = ["climbs", "jumps", "wins contract", "beats forecasts"]
DOWN = ["slides", "slumps", "loses contract", "misses forecasts"]
FIRMS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Soylent", "Tyrell"]


def entity_rows(n: int, seed: int) -> list[tuple[str, str, str]]:
    """SEntFiN-shaped rows: two companies of opposite fortune per headline."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.sample(FIRMS, 2)
        up, down = rng.choice(UP), rng.choice(DOWN)
        if i % 2:
            title, labels = f"{a} {up} as {b} {down}", {a: "positive", b: "negative"}
        else:
            title, labels = f"{a} {down} as {b} {up}", {a: "negative", b: "positive"}
        rows.append((f"e{i}", title, json.dumps(labels)))
    return rows


def write_entity_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "title", "entities"])
        writer.writerows(rows)
    return path


def test_entity_files_give_entity_and_agreed_headline_examples(tmp_path: Path) -> None:
    path = write_entity_csv(
        tmp_path / "e.csv",
        [
            ("1", "Acme climbs as Globex slides", '{"Acme": "positive", "Globex": "negative"}'),
            ("2", "Acme and Hooli win contract", '{"Acme": "positive", "hooli": "positive"}'),
            ("3", "Tyrell flat", '{"Tyrall": "neutral"}'),  # a typo: not found in the title
        ],
    )
    entity = load_examples(path, "entity")
    assert [(e.target, e.label) for e in entity] == [
        ("Acme", "positive"), ("Globex", "negative"), ("Acme", "positive"), ("hooli", "positive"),
        ("Tyrall", "neutral"),
    ]  # fmt: skip
    assert entity[1].text[slice(*entity[1].spans[0])] == "Globex"
    assert entity[3].text[slice(*entity[3].spans[0])] == "Hooli"
    assert entity[4].spans == ()
    headline = load_examples(path, "sentiment")
    assert [(e.text, e.label) for e in headline] == [
        ("Acme and Hooli win contract", "positive"),
        ("Tyrell flat", "neutral"),
    ]
    assert {e.task for e in load_examples(path, "all")} == {"entity", "sentiment"}
    train, valid = split_validation(entity, 0.5, seed=3)
    by_text = {e.text: e in valid for e in entity}
    assert all((e in valid) == by_text[e.text] for e in entity)  # a headline stays whole


def test_the_entity_head_learns_opposite_fortunes(tmp_path: Path, tiny_backbone_dir: Path) -> None:
    from finsentry.cli.models import evaluate, train
    from finsentry.cli.score import score
    from finsentry.scoring.modeldir import ModelSpec

    train_csv = write_entity_csv(tmp_path / "train.csv", entity_rows(240, seed=1))
    valid_csv = write_entity_csv(tmp_path / "valid.csv", entity_rows(60, seed=2))
    out = tmp_path / "model"
    runner = CliRunner()
    args = ["--data", str(train_csv), "--valid", str(valid_csv), "--task", "entity"]
    args += ["--base", str(tiny_backbone_dir), "--lora-r", "0", "--epochs", "20", "--lr", "1e-3"]
    args += ["--head-lr", "5e-3", "--batch-size", "16", "--max-length", "24", "--out", str(out)]
    args += ["--quiet", "--device", "cpu", "--lexical-weight", "0", "--patience", "20"]
    result = runner.invoke(train, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    spec = ModelSpec.read(out)
    assert spec.heads["entity"] == ["negative", "neutral", "positive"]
    assert json.loads((out / "finsentry_model.json").read_text())["format"] == 3
    evaluated = runner.invoke(
        evaluate,
        ["--model", str(out), "--task", "entity", "--data", str(valid_csv), "--json",
         "--report", str(tmp_path / "ev")],  # fmt: skip
        catch_exceptions=False,
    )
    assert evaluated.exit_code == 0, evaluated.output
    accuracy = json.loads(evaluated.output)["tasks"]["entity"]["accuracy"]
    assert accuracy >= 0.7  # half the labels of every headline are each class: chance is 0.5
    scored = runner.invoke(
        score,
        ["Hooli slumps as Tyrell jumps", "--entity", "Hooli", "--entity", "Tyrell",
         "--entity", "Nobody", "--model", str(out), "--json"],
        catch_exceptions=False,
    )  # fmt: skip
    assert scored.exit_code == 0, scored.output
    record = json.loads(scored.output.splitlines()[0])
    assert [e["entity"] for e in record["entities"]] == ["Hooli", "Tyrell", "Nobody"]
    assert [e["basis"] for e in record["entities"]] == ["entity", "entity", "headline"]
    assert record["entities"][2]["sentiment"]["label"] == record["sentiment"]["label"]
