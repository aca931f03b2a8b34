"""Fine-tuning: LoRA adapters (or a full fine-tune) plus linear heads, multi-task in one forward.

Every batch mixes the tasks; each row contributes the cross-entropy of its own task's head. Batches
are drawn from length buckets (shuffled, then sorted within a window of a few hundred examples) so
little compute goes to padding. The best state on the validation data (mean accuracy over the tasks)
is kept; training stops early after ``patience`` evaluations without improvement.

The steps, each in its module: :mod:`.start` (the network to train and what of it trains),
:mod:`.forward` (a batch through every layer, or through the top layers over cached states),
:mod:`.loop` (batches, optimiser, evaluation, the best state), :mod:`.lexical_head` (the lexical
head, kept only if it helps) and :mod:`.export` (the model directory and its card).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from finsentry.scoring.device import configure_cpu_threads, select_device
from finsentry.scoring.engine import Scorer
from finsentry.scoring.modeldir import ModelSpec
from finsentry.scoring.network import ENTITY_TASK, MultiTaskNetwork
from finsentry.scoring.onnx_export import export_after_training
from finsentry.training.augment import swap_names
from finsentry.training.calibration import calibration_record, fit_heads
from finsentry.training.config import TrainConfig, TrainResult
from finsentry.training.data import DataError, Example, label_sets
from finsentry.training.export import save_model
from finsentry.training.forward import Runner, cached_runner, full_runner
from finsentry.training.lexical_head import add_lexical_head, fit_lexical_head
from finsentry.training.loop import OnEval, TrainingLoop, bucketed_batches, seed_everything
from finsentry.training.rows import Row, pack, task_targets, tokenize_rows
from finsentry.training.start import Start, choose_trainable, start_network

log = logging.getLogger(__name__)
MIN_CALIBRATION_EXAMPLES = 200  # a head with fewer validation rows keeps plain probabilities

__all__ = [
    "Start", "TrainConfig", "TrainResult", "bucketed_batches", "fit_lexical_head", "save_model",
    "seed_everything", "start_network", "train",
]  # fmt: skip


def _runner(
    network: MultiTaskNetwork,
    tokenizer: Any,
    packed: Sequence[Row],
    evaluator: Scorer,
    valid_examples: Sequence[Example],
    config: TrainConfig,
    device: torch.device,
) -> Runner:
    if config.train_layers:
        rows = [row.ids for row in packed]
        k, max_length = config.train_layers, config.max_length
        return cached_runner(network, tokenizer, rows, valid_examples, k, max_length, device)
    return full_runner(network, evaluator, packed, valid_examples, device, config.contrast_weight)


def _with_swapped_names(examples: Sequence[Example], config: TrainConfig) -> list[Example]:
    """The training examples, and their name-swapped copies when ``--swap-names`` asks for them."""
    if config.swap_names <= 0:
        return list(examples)
    swapped = swap_names(examples, config.swap_names, config.seed)
    log.info("%d examples added with their companies' names swapped", len(swapped))
    return [*examples, *swapped]


def _export_and_calibrate(
    out: Path, evaluator: Scorer, valid_examples: Sequence[Example]
) -> ModelSpec:
    """Write the int8 ONNX export, then the temperatures of the heads with enough validation
    examples (see :mod:`finsentry.training.calibration`); the model's final spec."""
    spec = export_after_training(out)  # model.int8.onnx for the onnx backend
    fits, _ = fit_heads(evaluator, valid_examples, MIN_CALIBRATION_EXAMPLES)
    for head, fit in fits.items():
        log.info(
            "%s temperature %.3f: expected calibration error %.4f -> %.4f on %d validation rows",
            head, fit.temperature, fit.before.ece, fit.after.ece, fit.before.count,
        )  # fmt: skip
    if fits:
        spec = replace(spec, calibration=calibration_record(fits, ["the validation data"], None))
        spec.write(out)
        lines = ["", "## Calibration", "", "Temperatures fitted on the validation data:", ""]
        lines += [
            f"* {head}: {fit.temperature:.3f}; {fit.before.count} rows, before: {fit.before.line()};"
            f" after: {fit.after.line()}"
            for head, fit in fits.items()
        ]
        with (out / "model_card.md").open("a", encoding="utf-8") as card:
            card.write("\n".join(lines) + "\n")
    return spec


def train(
    train_examples: Sequence[Example],
    valid_examples: Sequence[Example],
    config: TrainConfig,
    out: Path,
    *,
    progress: bool = True,
    on_eval: OnEval | None = None,
) -> TrainResult:
    """Fine-tune, keep the best validation state, and write a model directory to ``out``."""
    started = time.perf_counter()
    seed_everything(config.seed)
    device = select_device(config.device)
    if device.type == "cpu":
        configure_cpu_threads(config.cpu_threads)
    train_examples = _with_swapped_names(train_examples, config)
    labels = label_sets([*train_examples, *valid_examples], config.label_names)
    start = start_network(config.base, labels, config.dropout)
    network, tokenizer = start.network, start.tokenizer
    choose_trainable(network, config)
    network.to(device)
    packed = pack(train_examples, labels)
    tokenize_rows(tokenizer, packed, config.max_length)
    if config.train_layers and ENTITY_TASK in labels:
        raise DataError("the entity head trains with all layers: pass --train-layers 0")
    evaluator = Scorer(
        network,
        tokenizer,
        labels,
        model_id="training",
        device=device,
        token_budget=8192,
        max_length=config.max_length,
    )
    runner = _runner(network, tokenizer, packed, evaluator, valid_examples, config, device)
    targets = task_targets(packed, list(labels))
    loop = TrainingLoop(network, runner, [row.ids for row in packed], targets, config, device)
    deadline = started + 60.0 * config.max_minutes if config.max_minutes > 0 else float("inf")
    best = loop.run(deadline, progress, on_eval)
    network.load_state_dict(best.state, strict=False)
    loop.mode(False)
    network_metrics = best.metrics or runner.evaluate()
    blend = add_lexical_head(
        evaluator, train_examples, valid_examples, labels, config, network_metrics
    )
    history = loop.history
    spec = save_model(
        network,
        labels,
        config,
        out,
        blend.metrics,
        history,
        train_examples,
        start=start,
        lexical=blend.lexical,
        network_metrics=blend.network_metrics,
    )
    spec = _export_and_calibrate(out, evaluator, valid_examples)
    return TrainResult(out, spec, blend.metrics, history, time.perf_counter() - started)
