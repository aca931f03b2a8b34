"""The synthetic event headlines: the 2.0 set stays reproducible, the extended set adds its
templates with the labels their kind calls for."""

from __future__ import annotations

import re

from finsentry.training.synthetic import (
    ADVERSE,
    ADVERSE_COMPOUND,
    ADVERSE_MORE,
    LOOKALIKE,
    LOOKALIKE_COMPOUND,
    LOOKALIKE_MORE,
    PAIRED,
    generate,
)


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[a-z]+\}", template)
    body = ".+".join(re.escape(p) for p in parts)
    return re.compile(body[:1].upper() + body[1:] if body[:1].isalpha() else body, re.IGNORECASE)


def _kind(title: str, templates: tuple[str, ...]) -> bool:
    return any(_pattern(t).fullmatch(title) for t in templates)


def test_without_extended_no_new_template_is_drawn_and_a_seed_gives_the_same_rows() -> None:
    rows = generate(600, seed=3)
    assert rows == generate(600, seed=3)
    assert not any(_kind(title, ADVERSE_MORE + LOOKALIKE_MORE) for title, _ in rows)


def test_extended_draws_the_new_templates_with_their_labels() -> None:
    rows = generate(1500, seed=5, extended=True)
    new_adverse = [(t, lab) for t, lab in rows if _kind(t, ADVERSE_MORE)]
    new_lookalike = [(t, lab) for t, lab in rows if _kind(t, LOOKALIKE_MORE)]
    assert len(new_adverse) > 100 and len(new_lookalike) > 20
    for title, labels in new_adverse:
        assert list(labels.values()) == ["negative"], title
    for title, labels in new_lookalike:
        if not _kind(title, ADVERSE + PAIRED):
            assert set(labels.values()) == {"neutral"}, title
    assert all("{" not in title for title, _ in rows)  # every filler was filled


def test_extended_keeps_the_first_set_in_the_mix() -> None:
    rows = generate(1500, seed=5, extended=True)
    assert sum(_kind(t, ADVERSE) for t, _ in rows) > 100
    assert sum(_kind(t, LOOKALIKE) for t, _ in rows) > 50


def test_compound_draws_the_company_named_events_and_only_with_the_flag() -> None:
    before = ADVERSE + ADVERSE_MORE + LOOKALIKE + LOOKALIKE_MORE + PAIRED

    def new(title: str, templates: tuple[str, ...]) -> bool:  # (the patterns are loose)
        return _kind(title, templates) and not _kind(title, before)

    compound = ADVERSE_COMPOUND + LOOKALIKE_COMPOUND
    assert not any(new(t, compound) for t, _ in generate(1500, seed=5, extended=True))
    rows = generate(2000, seed=8, extended=True, compound=True)
    hit = [(t, lab) for t, lab in rows if new(t, ADVERSE_COMPOUND)]
    hit = [(t, lab) for t, lab in hit if not _kind(t, LOOKALIKE_COMPOUND)]
    safe = [(t, lab) for t, lab in rows if new(t, LOOKALIKE_COMPOUND)]
    assert len(hit) > 100 and len(safe) > 20
    assert all(list(lab.values()) == ["negative"] for _, lab in hit)
    # a look-alike that no adverse template also matches is neutral for every company it names
    for title, labels in safe:
        if not _kind(title, ADVERSE + ADVERSE_MORE + ADVERSE_COMPOUND + PAIRED):
            assert set(labels.values()) == {"neutral"}, title
    assert sum("cyberattack" in t.lower() for t, _ in hit) > 20
    assert all("{" not in t for t, _ in rows)
