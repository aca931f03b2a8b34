"""Build a :class:`Scorer` from settings: a finsentry model directory, or any HF classifier, on the
``onnx`` backend (int8 ONNX Runtime, CPU; the light install) or the ``torch`` one.

``auto`` takes ``onnx`` when the model ships an ONNX export, onnxruntime is installed and the
scoring device is the CPU (``cpu``, or ``auto`` without a visible GPU); else ``torch``.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

from finsentry.config import Settings
from finsentry.scoring.device import available_cores
from finsentry.scoring.engine import Scorer
from finsentry.scoring.modeldir import (
    SENTIMENT_SYNONYMS,
    ModelSpec,
    is_finsentry_model,
    read_calibration_file,
    resolve_model,
    temperatures_of,
)

log = logging.getLogger(__name__)

TORCH_EXTRA = "pip install 'finsentry[torch]'"


class BackendError(RuntimeError):
    """The chosen scoring backend cannot run this model here; the message says what to do."""


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or blocked installation counts as none
        return False


def _gpu_visible() -> bool:
    if not _installed("torch"):
        return False
    import torch

    return bool(torch.cuda.is_available())


def choose_backend(backend: str, device: str, spec: ModelSpec | None) -> str:
    """``onnx`` or ``torch`` for this model, device preference and installation (see module)."""
    has_export = spec is not None and bool(spec.onnx)
    on_cpu = device == "cpu" or (device == "auto" and not _gpu_visible())
    if backend == "onnx":
        if not has_export:
            raise BackendError(
                "the model has no ONNX export: run `finsentry export-onnx MODEL_DIR` "
                "(needs the torch extra), or use --backend torch"
            )
        if not _installed("onnxruntime"):
            raise BackendError("the onnx backend needs onnxruntime: pip install onnxruntime")
        if device.startswith("cuda"):
            raise BackendError("the onnx backend runs on the CPU: use --device cpu or --backend torch")
        return "onnx"
    if backend == "auto" and has_export and on_cpu and _installed("onnxruntime"):
        return "onnx"
    if not _installed("torch"):
        why = "this model has no ONNX export" if not has_export else "the device is a GPU"
        raise BackendError(f"scoring needs torch here ({why}): {TORCH_EXTRA}")
    return "torch"


def load_scorer(settings: Settings) -> Scorer:
    """Load the model that ``settings.model`` names with ``settings.backend`` on ``settings.device``.

    Call once per process (it loads weights, so it takes a second or two); nothing is loaded at
    import time. A finsentry model directory gives all its heads; a plain hub sentiment classifier
    gives sentiment and the topic ``unknown`` (torch only).
    """
    reference = resolve_model(settings.model)
    spec = None
    if isinstance(reference, Path) and is_finsentry_model(reference):
        spec = ModelSpec.read(reference)
    backend = choose_backend(settings.backend, settings.device, spec)
    if backend == "onnx":
        assert isinstance(reference, Path) and spec is not None
        scorer = _onnx_scorer(reference, spec, settings)
    else:
        scorer = _torch_scorer(reference, spec, settings)
    log.info("loaded %s (%r, max_length %d)", scorer.model_id, scorer.runner, scorer.max_length)
    return scorer


def _capped(max_length: int, *caps: Any) -> int:
    for cap in caps:
        if isinstance(cap, int) and 0 < cap < max_length:
            max_length = cap
    return max_length


def _onnx_scorer(directory: Path, spec: ModelSpec, settings: Settings) -> Scorer:
    from finsentry.scoring.lexical import load_lexical
    from finsentry.scoring.onnx_backend import load_onnx_runner
    from finsentry.scoring.tokens import FastTokenizer

    assert spec.onnx is not None
    positions = spec.onnx.get("max_positions")
    tokenizer = FastTokenizer.from_file(directory / spec.onnx["tokenizer"])
    threads = settings.cpu_threads if settings.cpu_threads > 0 else available_cores()
    return Scorer(
        load_onnx_runner(directory, spec, threads),
        tokenizer,
        dict(spec.heads),
        model_id=spec.model_id,
        token_budget=settings.token_budget,
        max_length=_capped(settings.max_length, positions),
        lexical=load_lexical(directory, spec),
        temperatures=spec.temperatures,
    )


def _torch_scorer(reference: Path | str, spec: ModelSpec | None, settings: Settings) -> Scorer:
    from finsentry.scoring.device import configure_cpu_threads, select_device
    from finsentry.scoring.network import load_lexical, load_network

    device = select_device(settings.device)
    if device.type == "cpu":
        configure_cpu_threads(settings.cpu_threads)
    network: Any
    temperatures: dict[str, float] = {}
    if isinstance(reference, Path) and spec is not None:
        network, tokenizer = load_network(reference, spec)
        labels, model_id = dict(network.labels), spec.model_id
        lexical = load_lexical(reference, spec)
        temperatures = spec.temperatures
    else:
        from finsentry.scoring.hub import hub_classifier

        network, tokenizer, labels, model_id = hub_classifier(reference)
        lexical = None
        if isinstance(reference, Path):
            temperatures = temperatures_of(read_calibration_file(reference), labels)
    inner = getattr(network, "backbone", None) or getattr(network, "model", None)
    positions = getattr(getattr(inner, "config", None), "max_position_embeddings", None)
    return Scorer(
        network,
        tokenizer,
        labels,
        model_id=model_id,
        device=device,
        token_budget=settings.token_budget,
        max_length=_capped(settings.max_length, positions, getattr(tokenizer, "model_max_length", None)),
        lexical=lexical,
        temperatures=temperatures,
    )


__all__ = ["SENTIMENT_SYNONYMS", "BackendError", "choose_backend", "load_scorer"]
