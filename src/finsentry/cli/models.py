"""``finsentry train-lexical``, ``evaluate``, ``calibrate`` and ``export-onnx``: the model
commands (``train`` is in :mod:`finsentry.cli.train`, ``score`` in :mod:`finsentry.cli.score`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from finsentry.cli.common import (
    F,
    backend_option,
    device_option,
    env_option,
    model_option,
    setting_option,
    settings_from,
)
from finsentry.cli.options import TASK_CHOICES, TASK_HELP
from finsentry.cli.train import train

__all__ = ["calibrate", "evaluate", "export_onnx", "train", "train_lexical"]


def _labelled_data(env: str, data_help: str) -> Callable[[F], F]:
    """The --data, --task and --label-names options of a command that reads labelled data."""

    def decorate(command: F) -> F:
        for option in reversed(
            [
                env_option(
                    "--data",
                    env=f"{env}_DATA",
                    multiple=True,
                    required=True,
                    metavar="[TASK=]FILE",
                    help=data_help,
                ),
                env_option(
                    "--task",
                    env=f"{env}_TASK",
                    type=click.Choice(TASK_CHOICES),
                    required=True,
                    help=TASK_HELP,
                ),
                env_option(
                    "--label-names",
                    env=f"{env}_LABEL_NAMES",
                    multiple=True,
                    metavar="TASK=NAMES",
                    help="Names of integer label ids, as for train.",
                ),
            ]
        ):
            command = option(command)
        return command

    return decorate


def _examples(
    values: tuple[str, ...], task: str, label_names: tuple[str, ...]
) -> tuple[list[Any], dict[str, list[str]]]:
    from finsentry.training.data import DataError, load_examples, parse_label_names

    try:
        names = parse_label_names(label_names)
        return [e for value in values for e in load_examples(value, task, names)], names
    except DataError as exc:
        raise click.UsageError(str(exc)) from exc


# ------------------------------------------------------------------------------- train-lexical
@click.command("train-lexical")
@env_option(
    "--model",
    env="LEXICAL_MODEL",
    type=click.Path(file_okay=False, exists=True),
    required=True,
    help="finsentry model directory to add the lexical head to (written in place).",
)
@_labelled_data("LEXICAL", "Training data, as for train (use the data the network was trained on).")
@env_option(
    "--weight",
    env="LEXICAL_WEIGHT",
    default=0.5,
    show_default=True,
    help="Share of the lexical head in the mixed probabilities (between 0 and 1).",
)
@env_option(
    "--c",
    "c",
    env="LEXICAL_C",
    default=10.0,
    show_default=True,
    help="Inverse L2 strength of the logistic regression.",
)
def train_lexical(
    model: str,
    data: tuple[str, ...],
    task: str,
    label_names: tuple[str, ...],
    weight: float,
    c: float,
) -> None:
    """Fit (or refit) the lexical head of an existing finsentry model directory.

    The head scores word 1-2-grams (TF-IDF, logistic regression); the model's probabilities become
    the weighted geometric mean of the network's and the head's. `finsentry train` fits it by
    default; this command adds it to a model trained without it, or refits it with another
    --weight. Measure the result with `finsentry evaluate`.
    """
    from dataclasses import replace

    from finsentry.scoring.modeldir import ModelSpec
    from finsentry.training.data import label_sets
    from finsentry.training.train import fit_lexical_head

    directory = Path(model)
    spec = ModelSpec.read(directory)
    examples, names = _examples(data, task, label_names)
    labels = label_sets(examples, names)
    for task_name, classes in labels.items():
        if task_name not in spec.heads:
            raise click.UsageError(f"{model} has no {task_name} head")
        if set(classes) - set(spec.heads[task_name]):
            raise click.UsageError(
                f"{task_name} labels {sorted(set(classes) - set(spec.heads[task_name]))[:5]} "
                f"are not classes of {model}"
            )
    if not 0.0 < weight < 1.0:
        raise click.BadParameter("must be between 0 and 1 (exclusive)", param_hint="--weight")
    click.echo(f"fitting the lexical head on {len(examples)} examples", err=True)
    head = fit_lexical_head(examples, {t: spec.heads[t] for t in labels}, weight, c)
    calibration, stale = _without(spec.calibration, set(labels))
    replace(spec, lexical=head.save(directory), calibration=calibration).write(directory)
    click.echo(f"wrote the lexical head ({len(head.vocab)} n-grams) into {directory}")
    if stale:
        click.echo(
            f"removed the temperatures of {', '.join(stale)}: they were fitted with the old "
            "lexical head; fit them again with finsentry calibrate"
        )


def _without(
    calibration: dict[str, Any] | None, tasks: set[str]
) -> tuple[dict[str, Any] | None, list[str]]:
    """``calibration`` without the temperatures of ``tasks`` (None when none is left), and the
    tasks whose temperatures were dropped."""
    if not calibration:
        return calibration, []
    kept = {t: v for t, v in calibration.get("tasks", {}).items() if t not in tasks}
    stale = sorted(set(calibration.get("tasks", {})) - set(kept))
    return ({**calibration, "tasks": kept} if kept else None), stale


# ------------------------------------------------------------------------------------ evaluate
@click.command()
@model_option
@_labelled_data("EVAL", "Labelled data, as for train.")
@env_option(
    "--report",
    env="EVAL_REPORT",
    type=click.Path(dir_okay=False),
    default="evaluation",
    show_default=True,
    help="Report path prefix: writes PREFIX.json and PREFIX.md.",
)
@env_option(
    "--json",
    "as_json",
    env="EVAL_JSON",
    is_flag=True,
    help="Print the JSON report instead of the summary.",
)
@device_option
@backend_option
@setting_option("--max-length", field="max_length", type=int)
@click.pass_context
def evaluate(
    ctx: click.Context,
    model: str | None,
    data: tuple[str, ...],
    task: str,
    label_names: tuple[str, ...],
    report: str,
    as_json: bool,
    device: str | None,
    backend: str | None,
    max_length: int | None,
) -> None:
    """Measure a model on labelled data: accuracy, macro-F1, per-class precision and recall, the
    confusion matrix and calibration (ECE, NLL, Brier, reliability diagram); writes a JSON and a
    markdown report.

    \b
    Examples:
      finsentry evaluate --model models/finsentry-minilm --task sentiment \\
        --data sentiment_valid.csv --label-names sentiment=bearish,bullish,neutral
      finsentry evaluate --task entity --data sentfin_valid.csv   # per-company sentiment
      finsentry evaluate --task entity --data rows.csv   # columns text,entity,label
      finsentry evaluate --task sentiment --data all-data.csv   # headerless label,text rows
    """
    from finsentry.scoring import load_scorer
    from finsentry.training.data import DataError
    from finsentry.training.report import evaluate_with_scorer, report_json, write_reports

    settings = settings_from(
        ctx, model=model, device=device, backend=backend, max_length=max_length
    )
    examples, _ = _examples(data, task, label_names)
    try:
        scorer = load_scorer(settings)
        metrics = evaluate_with_scorer(scorer, examples)
    except DataError as exc:
        raise click.UsageError(str(exc)) from exc
    described = ", ".join(data)
    json_path, md_path = write_reports(Path(report), scorer.model_id, described, metrics)
    if as_json:
        json.dump(report_json(scorer.model_id, described, metrics), sys.stdout, indent=2)
        click.echo()
        return
    for task_name, m in metrics.items():
        click.echo(
            f"{task_name}: accuracy {m.accuracy:.4f}  macro-F1 {m.macro_f1:.4f}  ({m.count} examples)"
        )
        for c in m.per_class:
            click.echo(
                f"  {c.label[:28]:<28} P {c.precision:.3f}  R {c.recall:.3f}  F1 {c.f1:.3f}  n={c.support}"
            )
        for name, accuracy, count in m.subsets:
            click.echo(f"  {name}: accuracy {accuracy:.4f} ({count} examples)")
        if m.calibration is not None:
            click.echo(f"  calibration: {m.calibration.line()}")
    click.echo(f"reports: {json_path} {md_path}")


# ----------------------------------------------------------------------------------- calibrate
@click.command()
@env_option(
    "--model",
    env="CALIBRATE_MODEL",
    type=click.Path(file_okay=False, exists=True),
    required=True,
    help="Model directory to calibrate: a finsentry model (its finsentry_model.json is "
    "rewritten) or a Hugging Face classifier (finsentry_calibration.json is written beside it).",
)
@_labelled_data(
    "CALIBRATE", "Labelled data the model was NOT trained on, as for train (repeatable)."
)
@env_option(
    "--min-examples",
    env="CALIBRATE_MIN_EXAMPLES",
    default=200,
    show_default=True,
    type=click.IntRange(min=10),
    help="A head with fewer examples than this keeps its temperature.",
)
@env_option(
    "--dry-run", env="CALIBRATE_DRY_RUN", is_flag=True, help="Print the fit, write nothing."
)
@backend_option
@click.pass_context
def calibrate(
    ctx: click.Context,
    model: str,
    data: tuple[str, ...],
    task: str,
    label_names: tuple[str, ...],
    min_examples: int,
    dry_run: bool,
    backend: str | None,
) -> None:
    """Make a model's probabilities mean what they say: fit one temperature per head
    (sentiment, topic, entity) on labelled data the model was not trained on, and store it in
    the model directory. Labels do not change; probabilities, scores and tone do.

    \b
    Examples:
      finsentry calibrate --model models/my-model --task all --data held_out.csv
      finsentry calibrate --model models/my-model --task entity --data sentfin_test.csv --dry-run
    """
    from finsentry.scoring import load_scorer
    from finsentry.scoring.modeldir import is_finsentry_model
    from finsentry.training.calibration import fit_heads
    from finsentry.training.data import DataError

    directory = Path(model)
    if not is_finsentry_model(directory) and not (directory / "config.json").is_file():
        raise click.UsageError(
            f"{model} is neither a finsentry model (finsentry_model.json) nor a Hugging Face "
            "model directory (config.json)"
        )
    examples, _ = _examples(data, task, label_names)
    settings = settings_from(ctx, model=str(directory), backend=backend)
    try:
        fits, skipped = fit_heads(load_scorer(settings), examples, min_examples)
    except DataError as exc:
        raise click.UsageError(str(exc)) from exc
    for head, count in skipped.items():
        click.echo(f"{head}: {count} examples, fewer than --min-examples: not fitted")
    for head, fit in fits.items():
        click.echo(f"{head}: temperature {fit.temperature:.3f} on {fit.before.count} examples")
        click.echo(f"  before  {fit.before.line()}")
        click.echo(f"  after   {fit.after.line()}")
    if dry_run or not fits:
        click.echo("nothing written" + (" (--dry-run)" if dry_run else ""))
        return
    names = [Path(value.partition("=")[2] or value).name for value in data]
    click.echo(f"wrote the temperatures into {_store_calibration(directory, fits, names)}")


def _store_calibration(directory: Path, fits: dict[str, Any], names: list[str]) -> Path:
    """Keep the fitted temperatures in the model: in a finsentry model's spec, or in
    finsentry_calibration.json beside a Hugging Face classifier; the file written."""
    from dataclasses import replace

    from finsentry.scoring.modeldir import (
        CALIBRATION_FILE,
        SPEC_FILE,
        ModelSpec,
        is_finsentry_model,
        read_calibration_file,
    )
    from finsentry.training.calibration import calibration_record

    if is_finsentry_model(directory):
        spec = ModelSpec.read(directory)
        record = calibration_record(fits, names, spec.calibration)
        replace(spec, calibration=record).write(directory)
        return directory / SPEC_FILE
    record = calibration_record(fits, names, read_calibration_file(directory))
    path = directory / CALIBRATION_FILE
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------------- export-onnx
@click.command("export-onnx")
@click.argument("model_dir", type=click.Path(file_okay=False, exists=True))
def export_onnx(model_dir: str) -> None:
    """Write the int8 ONNX export of a finsentry model directory (model.int8.onnx and
    tokenizer.json, recorded in finsentry_model.json), for the onnx backend.

    `finsentry train` does this itself; use it for models trained before, or to redo it. Needs
    the torch extra and onnx. Measure the result with `finsentry evaluate --backend onnx`.
    """
    from finsentry.scoring.onnx_export import OnnxExportError
    from finsentry.scoring.onnx_export import export_onnx as run_export

    try:
        path = run_export(Path(model_dir))
    except OnnxExportError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
