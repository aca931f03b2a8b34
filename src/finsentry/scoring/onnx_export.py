"""Export a finsentry model directory to ONNX and quantise it to int8 (the ``onnx`` backend).

``export_onnx(directory)`` writes, next to the model's own files::

    model.int8.onnx   the backbone, mean pooling and the text heads (sentiment, topic) in one graph,
                      weights quantised to int8 by ONNX Runtime's dynamic quantisation (MatMul and
                      the embedding tables; activations are quantised at run time); outputs
                      ``<task>`` logits and ``hidden``, the final token vectors, which the
                      ``entity`` head reads outside the graph (see :mod:`finsentry.scoring.onnx`)
    tokenizer.json    the backbone's fast tokenizer, so the ONNX backend needs neither torch nor
                      transformers nor the backbone package

and records them in ``finsentry_model.json`` under ``onnx``. It needs torch and onnx (the
``finsentry[torch]`` extra plus ``onnx``); ``finsentry train`` calls it after writing a model, and
``finsentry export-onnx DIR`` (re)does it for any finsentry model directory.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from finsentry.scoring.modeldir import ModelSpec, resolve_backbone

log = logging.getLogger(__name__)

ONNX_FILE = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
OPSET = 17
HIDDEN_OUTPUT = "hidden"


class OnnxExportError(RuntimeError):
    """The model cannot be exported (a missing package, an unsupported backbone)."""


def _text_tasks(spec: ModelSpec) -> list[str]:
    return [task for task in spec.heads if task != "entity"]


def _wrapper(network: Any, tasks: list[str]) -> Any:
    """The network as a module with positional tensor outputs: one per text task, then hidden."""
    import torch
    from torch import nn

    from finsentry.scoring.network import mean_pool

    class Exported(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = network

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor
        ) -> tuple[torch.Tensor, ...]:
            out = self.inner.backbone(input_ids=input_ids, attention_mask=attention_mask)
            hidden = out.last_hidden_state
            pooled = mean_pool(hidden, attention_mask)
            return (*(self.inner.heads[task](pooled) for task in tasks), hidden)

    return Exported().eval()


def _export_fp32(directory: Path, spec: ModelSpec, path: Path) -> int:
    """Export the fp32 graph to ``path``; returns the backbone's maximum positions."""
    import torch

    from finsentry.scoring.network import load_network

    network, tokenizer = load_network(directory, spec, attention="eager")
    tasks = _text_tasks(spec)
    sample = tokenizer(["finsentry exports this headline", "a second one"], padding=True)
    ids = torch.tensor(sample["input_ids"], dtype=torch.long)
    mask = torch.tensor(sample["attention_mask"], dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    with torch.inference_mode():
        torch.onnx.export(
            _wrapper(network, tasks),
            (ids, mask),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=[*tasks, HIDDEN_OUTPUT],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                **{task: {0: "batch"} for task in tasks},
                HIDDEN_OUTPUT: axes,
            },
            opset_version=OPSET,
            dynamo=False,
        )
    return int(getattr(network.backbone.config, "max_position_embeddings", 512))


def quantise(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of ``source`` (weights of MatMul and Gather) into ``target``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source),
        str(target),
        op_types_to_quantize=["MatMul", "Gather"],
        weight_type=QuantType.QInt8,
        per_channel=True,
    )


def export_onnx(directory: Path) -> Path:
    """Write ``model.int8.onnx`` and ``tokenizer.json`` into a finsentry model directory and
    record them in its spec; returns the ONNX file's path. See the module docstring."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise OnnxExportError(
            f"exporting to ONNX needs torch, onnx and onnxruntime ({exc.name} is missing): "
            "pip install 'finsentry[torch]' onnx"
        ) from exc
    spec = ModelSpec.read(directory)
    tokenizer_json = _tokenizer_file(directory, spec)
    target = directory / ONNX_FILE
    with tempfile.TemporaryDirectory(prefix="finsentry-onnx-") as scratch:
        fp32 = Path(scratch) / "model.onnx"
        positions = _export_fp32(directory, spec, fp32)
        quantise(fp32, Path(scratch) / ONNX_FILE)
        shutil.move(str(Path(scratch) / ONNX_FILE), target)
    if tokenizer_json != directory / TOKENIZER_FILE:
        shutil.copyfile(tokenizer_json, directory / TOKENIZER_FILE)
    entry = {
        "file": ONNX_FILE,
        "tokenizer": TOKENIZER_FILE,
        "quantisation": "dynamic int8, per channel (MatMul, Gather)",
        "opset": OPSET,
        "max_positions": positions,
        "outputs": [*_text_tasks(spec), HIDDEN_OUTPUT],
    }
    replace(spec, onnx=entry).write(directory)
    log.info("wrote %s (%.1f MB)", target, target.stat().st_size / 1e6)
    return target


def _tokenizer_file(directory: Path, spec: ModelSpec) -> Path:
    if (directory / TOKENIZER_FILE).is_file():
        return directory / TOKENIZER_FILE
    location = resolve_backbone(spec.backbone, directory)
    if isinstance(location, Path) and (location / TOKENIZER_FILE).is_file():
        return location / TOKENIZER_FILE
    raise OnnxExportError(
        f"the backbone {spec.backbone} of {directory} has no local {TOKENIZER_FILE} (a fast "
        "tokenizer): the ONNX backend cannot tokenize for it"
    )


def export_after_training(directory: Path) -> ModelSpec:
    """What ``finsentry train`` calls once the model is written: export it to ONNX (see
    :func:`export_onnx`); a model that cannot be exported is still a model, so a failure is
    logged with what to do, not raised. Returns the spec as it is now on disk."""
    try:
        export_onnx(directory)
    except (OnnxExportError, ValueError, RuntimeError, OSError) as exc:
        log.warning(
            "no ONNX export written for %s (%s): it scores with --backend torch; "
            "retry with `finsentry export-onnx %s`",
            directory,
            exc,
            directory,
        )
    return ModelSpec.read(directory)
