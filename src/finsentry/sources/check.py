"""What validation makes of records, without storing them (``ingest --check`` and
``dead-letters replay --dry-run``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from finsentry.schema import DeadLetter, RawRecord, utc_now
from finsentry.sources.validate import parse_records

if TYPE_CHECKING:
    from finsentry.config import Settings

__all__ = ["ValidationCheck", "check_records"]


@dataclass
class ValidationCheck:
    """How many records pass validation, and the reasons of the others: a count and the first
    dead letter of each, in order of how often they occur."""

    passed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    examples: dict[str, DeadLetter] = field(default_factory=dict)

    @property
    def refused(self) -> int:
        return sum(self.reasons.values())

    def counts(self) -> str:
        """``missing_field 2, bad_json 1``."""
        return ", ".join(f"{code} {n}" for code, n in self.reasons.most_common())


def check_records(batches: Iterable[Sequence[RawRecord]], settings: Settings) -> ValidationCheck:
    check = ValidationCheck()
    now = utc_now()
    for batch in batches:
        items, dead = parse_records(batch, settings, now)
        check.passed += len(items)
        for letter in dead:
            check.reasons[letter.reason_code] += 1
            check.examples.setdefault(letter.reason_code, letter)
    return check
