"""The ``onnx`` backend: the model's int8 ONNX export (``model.int8.onnx``, see
:mod:`finsentry.scoring.onnx_export`) on ONNX Runtime's CPU provider; needs neither torch nor
transformers.

Dynamic int8 quantisation scales each activation tensor by its own range, so a row's result would
depend on the other rows (and the padding) of its batch. Each text therefore runs alone, at its own
length, without padding: its scores are bit-for-bit the same whatever it is batched with. The texts
of a micro-batch run concurrently on a small thread pool (one ONNX Runtime thread each), which on a
CPU is as fast as batching them. The ``entity`` head reads the graph's ``hidden`` output here, in
numpy: per target, [mean ; max] of its mention's token vectors, then the linear head.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file

from finsentry.scoring.modeldir import HEADS_FILE, ModelSpec

ENTITY_TASK = "entity"


class OnnxRunner:
    """One ONNX Runtime session shared by ``threads`` worker threads; see the module docstring."""

    name = "onnx"
    multiple = 1
    max_rows: int | None = None

    def __init__(self, session: Any, tasks: Sequence[str], threads: int, entity: Any = None):
        self.session = session
        self.tasks = list(tasks)
        self.threads = max(1, threads)
        self._entity = entity  # (weight (classes, 2H), bias (classes,)) or None
        self._outputs = [*self.tasks, "hidden"]
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="finsentry-onnx")

    def _one(self, row: Sequence[int]) -> list[np.ndarray]:
        ids = np.asarray([row], dtype=np.int64)
        result: list[np.ndarray] = self.session.run(
            self._outputs, {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        )
        return result

    def run(
        self,
        rows: Sequence[Sequence[int]],
        owners: Sequence[int],
        mentions: Sequence[Sequence[int]],
    ) -> tuple[dict[str, np.ndarray], int]:
        """As :meth:`finsentry.scoring.torch_backend.TorchRunner.run`; no padding is computed."""
        if len(rows) == 1:
            results = [self._one(rows[0])]
        else:
            results = list(self._pool.map(self._one, rows))
        out = {
            task: np.concatenate([r[k] for r in results]).astype(np.float32)
            for k, task in enumerate(self.tasks)
        }
        if owners and self._entity is not None:
            weight, bias = self._entity
            features = np.stack(
                [target_features(results[o][-1][0], m) for o, m in zip(owners, mentions, strict=True)]
            )
            # a product and a sum per row, not one matrix product: BLAS picks its kernel by the
            # number of rows, which moved the logits in the 8th digit with the batch
            logits = (features[:, None, :] * weight[None, :, :]).sum(axis=-1) + bias
            out[ENTITY_TASK] = logits.astype(np.float32)
        return out, sum(len(row) for row in rows)

    def close(self) -> None:
        self._pool.shutdown(wait=False)

    def __repr__(self) -> str:
        return f"onnx int8 on cpu, {self.threads} thread(s)"


def target_features(hidden: np.ndarray, tokens: Sequence[int]) -> np.ndarray:
    """[mean ; max] of the token vectors ``hidden[tokens]`` (as ``network.target_features``)."""
    picked = hidden[list(tokens)].astype(np.float32)
    return np.concatenate([picked.mean(axis=0), picked.max(axis=0)])


def onnx_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def load_onnx_runner(directory: Path, spec: ModelSpec, threads: int) -> OnnxRunner:
    """A runner for a model directory's ONNX export (``spec.onnx`` must name it)."""
    import onnxruntime as ort

    if not spec.onnx:
        raise ValueError(f"{directory} has no ONNX export: run `finsentry export-onnx {directory}`")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    session = ort.InferenceSession(
        str(directory / spec.onnx["file"]), options, providers=["CPUExecutionProvider"]
    )
    tasks = [task for task in spec.heads if task != ENTITY_TASK]
    entity = None
    if ENTITY_TASK in spec.heads:
        heads = load_file(str(directory / HEADS_FILE))
        entity = (
            heads[f"{ENTITY_TASK}.weight"].astype(np.float32),
            heads[f"{ENTITY_TASK}.bias"].astype(np.float32),
        )
    return OnnxRunner(session, tasks, threads, entity)
