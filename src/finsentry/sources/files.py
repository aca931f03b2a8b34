"""The file source: JSONL and CSV files, read as a stream of raw records in batches.

Each non-blank line (or CSV row) becomes one :class:`RawRecord` with its original bytes (without
the line ending), ``input`` = the path as given and ``position`` = its 1-based line number, so a
dead letter points at the exact line to fix. Files are streamed line by line, never loaded whole.
Blank lines are not records and are skipped. ``.csv`` files are CSV with a header line; every other
extension (``.jsonl``, ``.ndjson``, ``.json``) is one JSON object per line.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from finsentry.schema import RawRecord, utc_now
from finsentry.sources.base import Batch
from finsentry.sources.validate import CsvRecord

if TYPE_CHECKING:
    from finsentry.totals import BatchReport

# A quoted CSV cell may span lines; stop gluing lines together after this much, so a stray quote
# cannot swallow the rest of a file (the glued record is then dead-lettered as bad_csv).
MAX_CSV_RECORD_LINES = 200
MAX_CSV_RECORD_BYTES = 4_000_000


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
    ) -> None:
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        self.paths = [Path(p) for p in paths]
        missing = [str(p) for p in self.paths if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"no such input file: {', '.join(missing)}; check the path")
        self.batch_size = batch_size
        self.source = self.name = source
        self.bytes_read = 0
        self.records_read = 0
        self.bytes_durable = 0  # of the files' bytes, those whose records the store holds
        self.records_durable = 0

    @property
    def inputs(self) -> list[str]:
        """The ``input`` names the records carry (one per file)."""
        return [str(p) for p in self.paths]

    def total_bytes(self) -> int:
        """The size of all files together, for a progress bar fed by :attr:`bytes_read`."""
        return sum(p.stat().st_size for p in self.paths)

    def records(self) -> Iterator[RawRecord]:
        for path in self.paths:
            if path.suffix.lower() == ".csv":
                yield from self._csv_records(path)
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

    def _lines(self, path: Path) -> Iterator[tuple[int, bytes]]:
        """(line number, line without its line ending) for every line of a file."""
        with path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                self.bytes_read += len(line)
                yield number, line.rstrip(b"\r\n")

    def _jsonl_records(self, path: Path) -> Iterator[RawRecord]:
        name = str(path)
        for number, line in self._lines(path):
            if not line.strip():
                continue
            self.records_read += 1
            yield RawRecord(
                data=line, source=self.source, input=name, position=number, received_at=utc_now()
            )

    def _csv_records(self, path: Path) -> Iterator[RawRecord]:
        name = str(path)
        columns: tuple[str, ...] | None = None
        pending: list[bytes] = []
        start = 0
        for number, line in self._lines(path):
            if columns is None:
                if line.strip():
                    columns = _header(line)
                continue
            if not pending:
                if not line.strip():
                    continue
                start = number
            pending.append(line)
            glued = b"\n".join(pending)
            if (
                glued.count(b'"') % 2 == 0
                or len(pending) >= MAX_CSV_RECORD_LINES
                or len(glued) >= MAX_CSV_RECORD_BYTES
            ):
                self.records_read += 1
                yield CsvRecord(
                    data=glued,
                    source=self.source,
                    input=name,
                    position=start,
                    received_at=utc_now(),
                    columns=columns,
                )
                pending = []
        if pending and columns is not None:  # an unterminated quote at the end of the file
            self.records_read += 1
            yield CsvRecord(
                data=b"\n".join(pending),
                source=self.source,
                input=name,
                position=start,
                received_at=utc_now(),
                columns=columns,
            )


def _header(line: bytes) -> tuple[str, ...]:
    """Column names from a CSV header line (lower-cased, stripped); () if it is unreadable."""
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError:
        return ()
    cells = next(csv.reader([text]), [])
    return tuple(cell.strip().lower() for cell in cells)
