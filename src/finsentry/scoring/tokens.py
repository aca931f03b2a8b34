"""A fast tokenizer from a ``tokenizer.json`` alone (the ``tokenizers`` package, no transformers).

:class:`FastTokenizer` answers the calls the :class:`~finsentry.scoring.engine.Scorer` makes of a
transformers tokenizer (``tokenizer(texts, truncation=True, max_length=..., padding=False,
return_offsets_mapping=...)``, ``pad_token_id``, ``is_fast``, ``model_max_length``), so the ONNX
backend tokenizes exactly as the torch backend does: both run the same ``tokenizer.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

_PAD_TOKENS = ("[PAD]", "<pad>", "<|padding|>")


class FastTokenizer:
    """A ``tokenizers.Tokenizer`` presented as much of a transformers fast tokenizer as scoring
    needs. Special tokens are added as the file's post-processor says; truncation counts them."""

    is_fast = True

    def __init__(self, tokenizer: Tokenizer, model_max_length: int = 512):
        self._tokenizer = tokenizer
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self._max_length: int | None = None
        self.model_max_length = model_max_length
        padding = tokenizer.padding
        pad = padding.get("pad_id") if padding else None
        if pad is None:
            found = (tokenizer.token_to_id(token) for token in _PAD_TOKENS)
            pad = next((i for i in found if i is not None), 0)
        self.pad_token_id = int(pad)

    @classmethod
    def from_file(cls, path: Path, model_max_length: int = 512) -> FastTokenizer:
        return cls(Tokenizer.from_file(str(path)), model_max_length)

    def __call__(
        self,
        texts: Sequence[str],
        *,
        truncation: bool = True,
        max_length: int | None = None,
        padding: bool = False,
        return_offsets_mapping: bool = False,
    ) -> dict[str, Any]:
        if padding:
            raise ValueError("FastTokenizer does not pad: the scorer pads per micro-batch")
        limit = max_length if truncation else None
        if limit != self._max_length:
            if limit is None:
                self._tokenizer.no_truncation()
            else:
                self._tokenizer.enable_truncation(limit)
            self._max_length = limit
        encodings = self._tokenizer.encode_batch(list(texts))
        out: dict[str, Any] = {"input_ids": [e.ids for e in encodings]}
        if return_offsets_mapping:
            out["offset_mapping"] = [e.offsets for e in encodings]
        return out
