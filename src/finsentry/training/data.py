"""Labelled data for training and evaluation: CSV or JSONL files with ``text`` and ``label`` columns.

* The columns may also carry common other names (``sentence``, ``headline``, ``tweet`` ... for
  the text; ``sentiment``, ``class`` for the label), in any case (``Sentence``, ``Sentiment``).
  A ``.txt`` file holds ``sentence@label`` lines, as the Financial PhraseBank is distributed; a
  CSV without a header is read as two columns, label and text in either order, when its first
  row is already a label and a text (``neutral,"According to ..."``). A ``.json`` file holds
  JSON lines or one array of objects; a ``.parquet`` file needs pyarrow. Files are read as UTF-8,
  else as Latin-1.

* ``label`` holds class names (``negative``, ``Bullish``, ``Earnings`` ...) or integer ids; ids are
  turned into names with ``label_names`` (``--label-names TASK=NAME0,NAME1,...`` or a file with one
  name per line, row order = id).
* Sentiment names are mapped onto finsentry's three classes: negative (also bearish, neg),
  neutral (neu), positive (bullish, pos).
* A file may hold several tasks in a ``task`` column (``sentiment`` / ``topic``); otherwise a file
  is tagged with its task as ``TASK=PATH`` (``sentiment=train.csv``), or takes the one task given.
* Entity-level files are shaped like SEntFiN (``title`` and ``entities`` columns, ``entities`` a
  JSON object ``{"name as written in the title": "positive|negative|neutral"}``), or hold one row
  per (text, company): ``text``, ``entity`` (or ``company``) and ``label`` columns.
  They give ``entity`` examples (one per name, with the character spans where the title names it)
  and, for the ``sentiment`` task, the titles whose names all share one label (headline-level
  examples).

Texts go through :func:`finsentry.sources.normalise.normalise_text`, exactly as the pipeline does
before scoring, so the model trains on what it will see.
"""

from __future__ import annotations

import json
import random
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from finsentry.entities import name_spans
from finsentry.schema import SENTIMENT_LABELS, Span
from finsentry.scoring.modeldir import SENTIMENT_SYNONYMS
from finsentry.sources.normalise import normalise_text
from finsentry.training.tables import DataError, read_table

__all__ = [
    "TASKS",
    "TASK_GROUPS",
    "DataError",
    "Example",
    "canonical_label",
    "describe",
    "entity_examples",
    "label_sets",
    "load_examples",
    "parse_label_names",
    "parse_task_path",
    "split_validation",
    "wanted_tasks",
]

TASKS = ("sentiment", "topic", "entity")
# what --task accepts beyond one task: "both" (sentiment and topic, as before) and "all"
TASK_GROUPS = {"both": ("sentiment", "topic"), "all": TASKS}


@dataclass(frozen=True, slots=True)
class Example:
    """A labelled text; for the ``entity`` task also the target's name and where the text names it
    (no spans: the name was not found in the text, and the text's own sentiment stands for it)."""

    text: str
    task: str
    label: str
    target: str = ""
    spans: tuple[Span, ...] = ()


def wanted_tasks(task: str) -> tuple[str, ...]:
    return TASK_GROUPS.get(task, (task,))


def entity_examples(frame: pd.DataFrame, path: Path, wanted: Sequence[str]) -> list[Example]:
    """Entity (and agreed headline sentiment) examples from a SEntFiN-shaped table."""
    examples: list[Example] = []
    for row, (title, raw) in enumerate(zip(frame["title"], frame["entities"], strict=True), 2):
        text = normalise_text(str(title)) if isinstance(title, str) else ""
        if not text:
            continue
        try:
            entities = json.loads(str(raw))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} row {row}: entities is not JSON ({exc.msg})") from None
        if not isinstance(entities, dict) or not entities:
            raise DataError(f"{path} row {row}: entities must be a JSON object name -> label")
        labels = {
            normalise_text(str(name)): canonical_label("sentiment", label, None)
            for name, label in entities.items()
        }
        if "entity" in wanted:
            examples += [
                Example(text, "entity", label, name, name_spans(text, name))
                for name, label in labels.items()
            ]
        if "sentiment" in wanted and len(set(labels.values())) == 1:
            examples.append(Example(text, "sentiment", next(iter(labels.values()))))
    return examples


def _entities_by_title(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """A one-company-per-row file (``text``, ``entity``, ``label``) in SEntFiN's shape: one row
    per text, its companies' labels in an ``entities`` object, texts in first-seen order."""
    by_title: dict[str, dict[str, str]] = {}
    for row, (text, name, label) in enumerate(
        zip(frame["text"], frame["entity"], frame["label"], strict=True), 2
    ):
        if not isinstance(name, str) or not name.strip():
            raise DataError(f"{path} row {row}: the entity column is empty; name the company")
        labels = by_title.setdefault(str(text), {})
        known = labels.get(name)
        if known is not None and known != str(label):
            raise DataError(
                f"{path} row {row}: {name!r} has two labels in one text ({known}, {label})"
            )
        labels[name] = str(label)
    return pd.DataFrame(
        {"title": list(by_title), "entities": [json.dumps(v) for v in by_title.values()]}
    )


def parse_task_path(value: str) -> tuple[str | None, Path]:
    """``sentiment=train.csv`` -> ("sentiment", Path); ``train.csv`` -> (None, Path)."""
    head, sep, tail = value.partition("=")
    if sep and head in TASKS:
        return head, Path(tail)
    return None, Path(value)


def parse_label_names(values: Iterable[str]) -> dict[str, list[str]]:
    """``TASK=a,b,c`` or ``TASK=FILE`` (one name per line) -> ``{task: [names by id]}``."""
    names: dict[str, list[str]] = {}
    for value in values:
        task, sep, spec = value.partition("=")
        if not sep or task not in TASKS:
            raise DataError(f"--label-names {value!r}: write TASK=NAME0,NAME1,... or TASK=FILE")
        path = Path(spec)
        if path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
            names[task] = [line.strip() for line in lines if line.strip()]
        else:
            names[task] = [part.strip() for part in spec.split(",") if part.strip()]
    return names


_SIGNED = {-1.0: "negative", 0.0: "neutral", 1.0: "positive"}


def signed_labels(raw: Iterable[object]) -> dict[str, str] | None:
    """Sentiment written as a sign (-1, 0, 1, as in many score files), when every label is one
    of those and -1 is among them (ids 0, 1, 2 never hold it): each raw text -> its class name.
    None for any other labelling."""
    found: dict[str, str] = {}
    for value in raw:
        text = str(value).strip()
        if text not in found:
            try:
                found[text] = _SIGNED[float(text)]
            except (KeyError, ValueError):
                return None
    return found if "negative" in found.values() else None


def _score_hint(text: str) -> str:
    """A hint for a sentiment given as a score (FiQA's -1..1, say): classes are needed."""
    try:
        value = float(text)
    except ValueError:
        return ""
    if -1.0 <= value <= 1.0:
        return (
            " (a sentiment score? write each row's class instead, e.g. negative below -0.1, "
            "positive above 0.1, neutral between: the cut is a choice about your data)"
        )
    return ""


def canonical_label(task: str, raw: object, names: Sequence[str] | None) -> str:
    """Map a raw label (name or id) to the class name the model uses."""
    text = str(raw).strip()
    if names is not None and text.lstrip("-").isdigit():
        index = int(text)
        if not 0 <= index < len(names):
            raise DataError(f"{task} label id {index} is outside the {len(names)} label names")
        text = names[index]
    if task in ("sentiment", "entity"):
        name = SENTIMENT_SYNONYMS.get(text.lower())
        if name is None:
            hint = (
                " (labels look like ids: pass --label-names sentiment=NAME0,NAME1,NAME2)"
                if text.lstrip("-").isdigit()
                else _score_hint(text)
            )
            raise DataError(f"sentiment label {text!r} is not negative/neutral/positive{hint}")
        return name
    return text


def load_examples(
    value: str | Path,
    task: str,
    label_names: dict[str, list[str]] | None = None,
) -> list[Example]:
    """Read one data argument (``[TASK=]PATH``) for ``task`` (sentiment, topic, entity, both or
    all)."""
    tagged, path = parse_task_path(str(value))
    frame = read_table(path)
    label_names = label_names or {}
    if "text" not in frame.columns or "entity" in frame.columns:  # entity-level file
        wanted = [t for t in wanted_tasks(task) if t in ("entity", "sentiment")]
        if tagged is not None:
            wanted = [t for t in wanted if t == tagged]
        if "entity" in frame.columns:
            signed = signed_labels(frame["label"]) if "label" in frame.columns else None
            if signed is not None:
                frame = frame.assign(label=[signed[str(v).strip()] for v in frame["label"]])
            frame = _entities_by_title(frame, path)
        found = entity_examples(frame, path, wanted)
        if not found:
            raise DataError(f"{path} holds no usable {task} examples")
        return found
    if "task" in frame.columns:
        tasks = frame["task"].astype(str).str.strip().tolist()
    elif tagged is not None:
        tasks = [tagged] * len(frame)
    elif task in TASKS:
        tasks = [task] * len(frame)
    else:
        raise DataError(
            f"{path}: with --task {task}, tag each file (sentiment=FILE, topic=FILE) "
            "or give it a task column"
        )
    text_tasks = wanted_tasks(task)
    signed = None
    if "sentiment" not in label_names:
        signed = signed_labels(
            r for r, t in zip(frame["label"], tasks, strict=True) if t == "sentiment"
        )
    examples = []
    for row_text, raw, row_task in zip(frame["text"], frame["label"], tasks, strict=True):
        if row_task not in TASKS or row_task == "entity":
            raise DataError(
                f"{path}: unknown task {row_task!r} (use sentiment or topic; entity-level data "
                "comes in files with title and entities columns)"
            )
        if row_task not in text_tasks:
            continue
        text = normalise_text(str(row_text)) if isinstance(row_text, str) else ""
        if not text:
            continue
        if signed is not None and row_task == "sentiment":
            raw = signed[str(raw).strip()]
        examples.append(
            Example(text, row_task, canonical_label(row_task, raw, label_names.get(row_task)))
        )
    if not examples:
        raise DataError(f"{path} holds no usable {task} examples")
    return examples


def label_sets(examples: Sequence[Example], known: dict[str, list[str]]) -> dict[str, list[str]]:
    """Class names per task: sentiment always in finsentry's order; topic from the label names
    (id order) when given, else sorted."""
    out: dict[str, list[str]] = {}
    for task in TASKS:
        seen = {e.label for e in examples if e.task == task}
        if not seen:
            continue
        if task in ("sentiment", "entity"):
            out[task] = list(SENTIMENT_LABELS)
        elif task in known:
            unknown = seen - set(known[task])
            if unknown:
                raise DataError(f"{task} labels {sorted(unknown)[:5]} are not in --label-names")
            out[task] = list(known[task])
        else:
            out[task] = sorted(seen)
    return out


def split_validation(
    examples: Sequence[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """A stratified split (per task and class) of ``fraction`` of the examples for validation."""
    if not 0.0 < fraction < 1.0:
        raise DataError("the validation fraction must be between 0 and 1")
    groups: dict[tuple[str, str], list[Example]] = defaultdict(list)
    train: list[Example] = []
    valid: list[Example] = []
    # a headline with entity labels goes to one side whole (its entities and its headline label),
    # chosen by a stable hash of its text
    grouped = {e.text for e in examples if e.task == "entity"}
    for example in examples:
        if example.text in grouped:
            draw = zlib.crc32(f"{seed}|{example.text}".encode()) / 2**32
            (valid if draw < fraction else train).append(example)
        else:
            groups[(example.task, example.label)].append(example)
    rng = random.Random(seed)
    for key in sorted(groups):
        group = groups[key][:]
        rng.shuffle(group)
        cut = round(len(group) * fraction) if len(group) > 1 else 0
        valid.extend(group[:cut])
        train.extend(group[cut:])
    if not valid:
        raise DataError("too few examples to hold some out for validation: pass --valid FILE")
    return train, valid


def describe(examples: Sequence[Example]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for example in examples:
        counts[example.task][example.label] += 1
    return {task: dict(sorted(c.items())) for task, c in counts.items()}
