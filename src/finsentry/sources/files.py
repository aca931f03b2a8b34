"""The file source: JSONL and CSV files, read as a stream of raw records in batches.

Each non-blank line (or CSV row) becomes one :class:`RawRecord` with its original bytes (without
the line ending), ``input`` = the file's resolved path and ``position`` = its 1-based line number,
so a dead letter points at the exact line to fix. Lines are read by :mod:`~finsentry.sources.reader`
(LF, CR or CRLF endings; a line over ``max_line_bytes`` becomes an
:class:`~finsentry.sources.validate.OversizeRecord`, never held whole). Blank lines are skipped.
``.csv`` and ``.tsv`` files are CSV with a header line (cells separated by what the header is
separated by: comma, semicolon, tab or bar); a ``.json`` file that holds one JSON array gives a
record per element (:mod:`~finsentry.sources.json_array`, ``position`` = the element's index);
every other file (``.jsonl``, ``.ndjson``, ``.json``) is one JSON object per line; ``-`` is
standard input (JSON lines). Any of them may be gzipped (``news.jsonl.gz``): read through gzip,
progress counted in compressed bytes, a stream that breaks off raised as :class:`InputError`.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypeVar, cast

from finsentry.schema import RawRecord, utc_now
from finsentry.sources.base import Batch
from finsentry.sources.json_array import MAX_ARRAY_BYTES, array_elements, opens_array
from finsentry.sources.reader import (
    STDIN,
    InputError,
    Line,
    LineReader,
    check_input,
    csv_header,
    csv_rows,
    input_name,
)
from finsentry.sources.validate import CsvRecord, OversizeRecord

if TYPE_CHECKING:
    from finsentry.totals import BatchReport

__all__ = ["FileSource", "InputError"]

T = TypeVar("T")

MAX_CSV_RECORD_BYTES = 4_000_000
DEFAULT_MAX_LINE_BYTES = 1_048_576
DEFAULT_KEEP_BYTES = 65_536


class FileSource:
    """Batches of raw records from JSONL/CSV files, in file order.

    As a runner source (:meth:`read`), the last batch closes every file's input, so the watermark
    moves past them only once all are read. Files need no offset bookkeeping because re-ingesting
    is idempotent (items are upserted by id): :meth:`on_durable` only counts what is stored.
    """

    def __init__(
        self,
        paths: Iterable[str | os.PathLike[str]],
        batch_size: int = 256,
        source: str = "file",
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        keep_bytes: int = DEFAULT_KEEP_BYTES,
    ) -> None:
        """Raises :class:`InputError` (one line, says what to do) for an input that is missing,
        a directory or not a regular file; ``-`` is standard input."""
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        self.paths = [Path(p) for p in paths]
        for path in self.paths:
            check_input(path)
        self._names = {path: input_name(path) for path in self.paths}
        self._arrays = {path for path in self.paths if _json_array(path)}
        self.max_line_bytes = max_line_bytes
        self.keep_bytes = keep_bytes
        self.batch_size = batch_size
        self.source = self.name = source
        self._bytes_done = 0  # of the inputs read to their end
        self._reader: LineReader | None = None
        self._raw: BinaryIO | None = None  # a gzip file's compressed bytes, while it is read
        self.records_read = 0
        self.bytes_durable = 0  # of the files' bytes, those whose records the store holds
        self.records_durable = 0

    @property
    def inputs(self) -> list[str]:
        """The ``input`` names the records carry (one per file: its resolved path)."""
        return list(dict.fromkeys(self._names.values()))

    @property
    def bytes_read(self) -> int:
        """Bytes read so far, over all inputs (of a gzip file: its compressed bytes)."""
        if self._raw is not None:
            return self._bytes_done + self._raw.tell()
        return self._bytes_done + (self._reader.bytes_read if self._reader is not None else 0)

    def total_bytes(self) -> int:
        """The size of all files together, for a progress bar fed by :attr:`bytes_read`."""
        return sum(p.stat().st_size for p in self.paths if str(p) != STDIN)

    def records(self) -> Iterator[RawRecord]:
        for path in self.paths:
            if kind_of(path) in (".csv", ".tsv"):
                yield from self._csv_records(path)
            elif path in self._arrays:
                yield from self._array_records(path)
            else:
                yield from self._jsonl_records(path)

    def batches(self) -> Iterator[list[RawRecord]]:
        batch: list[RawRecord] = []
        for record in self.records():
            batch.append(record)
            if len(batch) >= self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def read(self) -> Iterator[Batch[int]]:
        """Runner batches; ``position`` is the number of file bytes the batch's records span."""
        done = 0
        for records in self.batches():
            yield Batch(records, self.bytes_read - done)
            done = self.bytes_read
        yield Batch((), self.bytes_read - done, closed=tuple(self.inputs))

    def on_durable(self, batch: Batch[int], report: BatchReport) -> None:
        """Progress: the store holds these records."""
        self.bytes_durable += batch.position
        self.records_durable += len(batch.records)

    # --- readers ---------------------------------------------------------------------------

    def _lines(self, path: Path) -> Iterator[Line]:
        """Every line of a file (or of standard input), bounded by ``max_line_bytes``; a
        ``.gz`` file is read through gzip."""
        if str(path) == STDIN:
            yield from self._read_lines(sys.stdin.buffer)
            return
        if not gzipped(path):
            with path.open("rb") as handle:
                yield from self._read_lines(handle)
            return
        with path.open("rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as handle:
            self._raw = raw
            try:
                lines = self._read_lines(cast(BinaryIO, handle), counted=False)
                yield from _unzipping(path, lines)
            finally:
                self._raw = None
        self._bytes_done += path.stat().st_size

    def _read_lines(self, handle: BinaryIO, counted: bool = True) -> Iterator[Line]:
        self._reader = reader = LineReader(handle, self.max_line_bytes, self.keep_bytes)
        yield from reader
        if counted:
            self._bytes_done += reader.bytes_read
        self._reader = None

    def _oversize(self, line: Line, name: str) -> OversizeRecord:
        self.records_read += 1
        return OversizeRecord(
            data=line.data, source=self.source, input=name, position=line.number,
            received_at=utc_now(), size=line.size, sha256=line.sha256,
        )  # fmt: skip

    def _jsonl_records(self, path: Path) -> Iterator[RawRecord]:
        name = self._names[path]
        for line in self._lines(path):
            if line.too_long:
                yield self._oversize(line, name)
                continue
            if not line.data.strip():
                continue
            self.records_read += 1
            yield RawRecord(
                data=line.data, source=self.source, input=name, position=line.number,
                received_at=utc_now(),
            )  # fmt: skip

    def _array_records(self, path: Path) -> Iterator[RawRecord]:
        """A ``.json`` file holding one array: each element a record, ``position`` its 1-based
        index in the array."""
        name = self._names[path]
        if gzipped(path):
            data = _unzipped(path, MAX_ARRAY_BYTES + 1)
            if len(data) > MAX_ARRAY_BYTES:
                raise InputError(_too_large(path, len(data)))
        else:
            data = path.read_bytes()
        for number, element in enumerate(array_elements(data), 1):
            if len(element) > self.max_line_bytes:
                digest = hashlib.sha256(element).hexdigest()
                yield self._oversize(Line(number, element[: self.keep_bytes], len(element), digest), name)
                continue
            self.records_read += 1
            yield RawRecord(
                data=element, source=self.source, input=name, position=number,
                received_at=utc_now(),
            )  # fmt: skip
        self._bytes_done += path.stat().st_size

    def _csv_records(self, path: Path) -> Iterator[RawRecord]:
        name = self._names[path]
        lines = self._lines(path)
        columns: tuple[str, ...] | None = None
        delimiter = ","
        for line in lines:
            if line.too_long:
                yield self._oversize(line, name)
            elif line.data.strip():
                columns, delimiter = csv_header(line.data)
                break
        if columns is None:
            return
        for row in csv_rows(lines, columns, MAX_CSV_RECORD_BYTES, delimiter):
            if isinstance(row, Line):
                yield self._oversize(row, name)
                continue
            self.records_read += 1
            yield CsvRecord(
                data=row.data, source=self.source, input=name, position=row.position,
                received_at=utc_now(), columns=columns, delimiter=delimiter,
            )  # fmt: skip


def gzipped(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


def kind_of(path: Path) -> str:
    """A file's format suffix, a ``.gz`` after it set aside (``news.csv.gz`` -> ``.csv``)."""
    return (path.with_suffix("") if gzipped(path) else path).suffix.lower()


def _unzipping(path: Path, parts: Iterator[T]) -> Iterator[T]:
    """``parts``, with a gzip stream's errors said as an :class:`InputError`."""
    try:
        yield from parts
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(_not_gzip(path, exc)) from None


def _unzipped(path: Path, limit: int) -> bytes:
    """Up to ``limit`` bytes of a gzip file's content."""
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read(limit)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(_not_gzip(path, exc)) from None


def _not_gzip(path: Path, exc: Exception) -> str:
    return (
        f"{path} is not a complete gzip file ({exc}); what was read before it is stored: fetch "
        "the file again, or ingest it unpacked"
    )


def _too_large(path: Path, size: int) -> str:
    return (
        f"{path} is one JSON array of {size} bytes or more, more than {MAX_ARRAY_BYTES} read at "
        f"once: write it as JSON lines (jq -c '.[]' {path} > news.jsonl) and ingest that"
    )


def _json_array(path: Path) -> bool:
    """Whether ``path`` is a ``.json`` file (gzipped or not) holding one JSON array;
    :class:`InputError` when it is one too large to read at once."""
    if str(path) == STDIN or kind_of(path) != ".json":
        return False
    if gzipped(path):
        return opens_array(_unzipped(path, 4096))  # its size is known once read
    with path.open("rb") as handle:
        if not opens_array(handle.read(4096)):
            return False
    size = path.stat().st_size
    if size > MAX_ARRAY_BYTES:
        raise InputError(_too_large(path, size))
    return True
