"""The ``torch`` backend: the :class:`~finsentry.scoring.network.MultiTaskNetwork` (or a hub
classifier) on a torch device, fp32 on the CPU and autocast (bf16/fp16) on CUDA.

On the CPU each text is computed alone at its own length (``max_rows = 1``): a row's result is
then bit-for-bit the same whatever else is scored with it (a batched matrix product changes the
order of floating-point sums with the batch's shape: differences of about 1e-6 otherwise), for
about a tenth of the throughput. On CUDA rows are batched (padding to multiples of 8).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from finsentry.scoring.device import autocast_dtype
from finsentry.scoring.network import ENTITY_TASK


class TorchRunner:
    """Runs a network whose forward returns ``{task: logits}`` on padded micro-batches."""

    name = "torch"

    def __init__(self, network: nn.Module, device: torch.device, pad_id: int = 0):
        self.network = network.to(device).eval()
        self.device = device
        self.pad_id = pad_id
        self._amp = autocast_dtype(device)
        self.multiple = 8 if device.type == "cuda" else 1
        self.max_rows: int | None = 1 if device.type == "cpu" else None

    def collate(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Pad rows to the longest one (rounded for tensor cores on CUDA) and move to the device."""
        width = max(len(row) for row in rows)
        if self.multiple > 1:
            width = -(-width // self.multiple) * self.multiple
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, row in enumerate(rows):
            ids[r, : len(row)] = torch.as_tensor(row, dtype=torch.long)
            mask[r, : len(row)] = 1
        if self.device.type == "cuda":
            ids, mask = ids.pin_memory(), mask.pin_memory()
        return ids.to(self.device, non_blocking=True), mask.to(self.device, non_blocking=True)

    def run(
        self,
        rows: Sequence[Sequence[int]],
        owners: Sequence[int],
        mentions: Sequence[Sequence[int]],
    ) -> tuple[dict[str, np.ndarray], int]:
        """``({task: logits}, padded tokens)``; ``entity`` logits for target ``t``, whose mention
        is token positions ``mentions[t]`` of row ``owners[t]``, when there are targets."""
        ids, mask = self.collate(rows)
        extra: dict[str, Any] = {}
        if owners:
            token_mask = torch.zeros((len(owners), ids.shape[1]), dtype=torch.float32)
            for t, tokens in enumerate(mentions):
                token_mask[t, list(tokens)] = 1.0
            extra = {
                "target_rows": torch.as_tensor(list(owners), dtype=torch.long).to(self.device),
                "target_mask": token_mask.to(self.device),
            }
        with (
            torch.inference_mode(),
            torch.autocast(
                self.device.type,
                dtype=self._amp or torch.float32,
                enabled=self._amp is not None,
            ),
        ):
            logits = self.network(input_ids=ids, attention_mask=mask, **extra)
        out = {task: values.float().cpu().numpy() for task, values in logits.items()}
        if not owners:
            out.pop(ENTITY_TASK, None)
        return out, int(ids.numel())

    def __repr__(self) -> str:
        return f"torch on {self.device}"
