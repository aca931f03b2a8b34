"""Bounded reading of line-oriented inputs: files and standard input, for JSONL and CSV.

- A line ends at LF, CR or CRLF (a CRLF split across two reads is still one ending).
- A line longer than ``max_line_bytes`` is never held whole: once it passes the cap only its first
  ``keep_bytes`` are kept, the rest is hashed, and the reader moves on; the :class:`Line` carries
  the full size and the sha256 so the dead letter can say what it was.
- Memory is bounded by the cap plus one read chunk, whatever the input holds.
- Inputs are named by their resolved path (``./f``, ``f`` and ``/abs/f`` are one input for the
  watermark and the dead letters); ``-`` is standard input, named ``<stdin>``.
- A CSV record spans lines only inside a quoted cell; a stray quote is confined to its own row
  as soon as a following line reads as a complete row of its own (:func:`csv_rows`).
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

STDIN = "-"
STDIN_NAME = "<stdin>"
CHUNK_BYTES = 1 << 16
_LINE_END = re.compile(rb"\r\n?|\n")

# A quoted CSV cell may span lines; stop gluing lines together after this much, so a stray quote
# cannot swallow the rest of a file (the glued record is then dead-lettered as bad_csv).
MAX_CSV_RECORD_LINES = 200


class InputError(ValueError):
    """An input cannot be read as a stream of lines (missing, a directory, a device ...)."""


@dataclass(frozen=True, slots=True)
class Line:
    """One line without its ending. ``data`` is the whole line, or only its first bytes when it
    was longer than the cap (then ``sha256`` is the hash of the whole line, ``size`` its length)."""

    number: int
    data: bytes
    size: int
    sha256: str = ""

    @property
    def too_long(self) -> bool:
        return bool(self.sha256)


def input_name(path: str | os.PathLike[str]) -> str:
    """The name records of ``path`` carry: the resolved path (``<stdin>`` for ``-``), as text
    any store can hold (undecodable bytes of a file name are escaped)."""
    if os.fspath(path) == STDIN:
        return STDIN_NAME
    resolved = os.fsencode(Path(path).resolve())
    return resolved.decode("utf-8", "backslashreplace")


def check_input(path: str | os.PathLike[str]) -> None:
    """Raise :class:`InputError` with a one-line explanation unless ``path`` is ``-`` or a
    regular file that can be read."""
    if os.fspath(path) == STDIN:
        return
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError(f"no such input file: {path}; check the path") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{path} is a directory; name the files in it, e.g. {path}/*.jsonl")
    if not stat.S_ISREG(mode):
        raise InputError(
            f"{path} is not a regular file (a device, FIFO or socket); save it to a file, or "
            "pipe it into 'finsentry ingest -'"
        )
    if not os.access(path, os.R_OK):
        raise InputError(f"cannot read {path}: permission denied")


class _LineBuffer:
    """The line being read: its parts while under the cap, then a prefix and a running hash."""

    def __init__(self, max_bytes: int, keep_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.keep_bytes = keep_bytes
        self.parts: list[bytes] = []
        self.size = 0
        self.prefix = b""
        self.hasher: hashlib._Hash | None = None

    def add(self, piece: bytes) -> None:
        if not piece:
            return
        self.size += len(piece)
        if self.hasher is not None:
            self.hasher.update(piece)
        elif self.size <= self.max_bytes:
            self.parts.append(piece)
        else:  # over the cap: keep a prefix, hash the rest, hold nothing more
            self.parts.append(piece)
            self.hasher = hashlib.sha256()
            for part in self.parts:
                self.hasher.update(part)
            self.prefix = b"".join(self.parts)[: self.keep_bytes]
            self.parts = []

    def take(self, number: int) -> Line:
        if self.hasher is not None:
            line = Line(number, self.prefix, self.size, self.hasher.hexdigest())
        else:
            line = Line(number, b"".join(self.parts), self.size)
        self.parts, self.size, self.prefix, self.hasher = [], 0, b"", None
        return line


class LineReader:
    """The lines of a binary stream, numbered from 1, blank ones included; at most
    ``max_line_bytes`` of a line (plus one chunk) is ever held in memory."""

    def __init__(
        self, handle: BinaryIO, max_line_bytes: int, keep_bytes: int, chunk_bytes: int = CHUNK_BYTES
    ) -> None:
        if max_line_bytes <= 0 or keep_bytes < 0 or chunk_bytes <= 0:
            raise ValueError("max_line_bytes and chunk_bytes must be positive")
        self._handle = handle
        self._chunk = chunk_bytes
        self._buffer = _LineBuffer(max_line_bytes, min(keep_bytes, max_line_bytes))
        self.bytes_read = 0

    def _read(self) -> bytes:
        read1 = getattr(self._handle, "read1", None)  # what is there now: a pipe is not held up
        return bytes(read1(self._chunk) if read1 is not None else self._handle.read(self._chunk))

    def __iter__(self) -> Iterator[Line]:
        number = 0
        skip_lf = False  # the last chunk ended with CR: an LF opening this one belongs to it
        buffer = self._buffer
        cap = buffer.max_bytes
        while chunk := self._read():
            self.bytes_read += len(chunk)
            if skip_lf and chunk.startswith(b"\n"):
                chunk = chunk[1:]
            skip_lf = chunk.endswith(b"\r")
            # pieces[0] ends the line in the buffer, pieces[-1] starts the next one
            pieces = _LINE_END.split(chunk) if b"\r" in chunk else chunk.split(b"\n")
            buffer.add(pieces[0])
            if len(pieces) == 1:
                continue
            number += 1
            yield buffer.take(number)
            for piece in pieces[1:-1]:  # whole lines inside the chunk
                number += 1
                if len(piece) <= cap:
                    yield Line(number, piece, len(piece))
                else:
                    buffer.add(piece)
                    yield buffer.take(number)
            buffer.add(pieces[-1])
        if buffer.size:
            yield buffer.take(number + 1)


@dataclass(frozen=True, slots=True)
class CsvRow:
    """A CSV record: its first line's number, its bytes (lines joined by LF), how many lines."""

    position: int
    data: bytes
    lines: int


# what separates a CSV file's cells: commas, or what spreadsheets in other locales and tab-separated
# exports write
DELIMITERS = (",", ";", "\t", "|")


def csv_header(line: bytes) -> tuple[tuple[str, ...], str]:
    """Column names from a CSV header line (lower-cased, stripped; () if it is unreadable) and the
    file's delimiter: of comma, semicolon, tab and bar, the one that splits the header into the
    most names (a comma when none splits it)."""
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError:
        return (), ","
    splits = {d: next(csv.reader([text], delimiter=d), []) for d in DELIMITERS}
    delimiter = max(DELIMITERS, key=lambda d: len(splits[d]))  # a tie keeps the first: a comma
    return tuple(cell.strip().lower() for cell in splits[delimiter]), delimiter


def _complete_row(line: bytes, columns: tuple[str, ...], delimiter: str = ",") -> bool:
    """Whether ``line`` alone reads as one whole record: balanced quotes, one cell per column and
    a timestamp where the header says ``published_at``. A line inside a quoted multi-line cell
    practically never looks like that, so it ends a stray quote's record."""
    if line.count(b'"') % 2 or "published_at" not in columns:
        return False
    try:
        cells = next(csv.reader([line.decode("utf-8")], strict=True, delimiter=delimiter), [])
        datetime.fromisoformat(cells[columns.index("published_at")].strip())
    except (UnicodeDecodeError, csv.Error, IndexError, ValueError):
        return False
    return len(cells) == len(columns)


def csv_rows(
    lines: Iterable[Line], columns: tuple[str, ...], max_bytes: int, delimiter: str = ","
) -> Iterator[CsvRow | Line]:
    """CSV records from the lines after the header; an over-long line comes back as itself."""
    pending: list[bytes] = []
    start = size = 0
    for line in lines:
        if pending and (line.too_long or _complete_row(line.data, columns, delimiter)):
            yield CsvRow(start, b"\n".join(pending), len(pending))  # a stray quote, confined
            pending = []
        if line.too_long:
            yield line
            continue
        if not pending:
            if not line.data.strip():
                continue
            start, size = line.number, 0
        pending.append(line.data)
        size += line.size + 1
        quotes = sum(part.count(b'"') for part in pending)
        if quotes % 2 == 0 or len(pending) >= MAX_CSV_RECORD_LINES or size > max_bytes:
            yield CsvRow(start, b"\n".join(pending), len(pending))
            pending = []
    if pending:  # an unterminated quote at the end of the input
        yield CsvRow(start, b"\n".join(pending), len(pending))
