"""Window history sums from running totals: the same numbers as walking the windows, for any
range, after new windows, late changes and pruning."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from finsentry.detectors import history as history_module
from finsentry.detectors.history import (
    ALL_KEY,
    DEFAULT_PRIOR,
    PRIOR_PERIOD,
    CrossSection,
    History,
    capped_history,
    window_sum,
)
from finsentry.schema import ScopeKind, WindowStat

SIZE = 300
T0 = datetime(2026, 3, 2, tzinfo=UTC)
FIRST = int(T0.timestamp()) // SIZE


def stat(kind: ScopeKind, value: str, i: int, count: int) -> WindowStat:
    return WindowStat(SIZE, T0 + timedelta(seconds=SIZE * i), kind, value, count, count // 3)


def windows(rng: random.Random, lo: int, hi: int) -> list[WindowStat]:
    """A sparse series for the all scope and two tickers (a window without items has no row)."""
    out = []
    for i in range(lo, hi):
        counts = {t: rng.choice((0, 0, 1, 2, 7)) for t in ("AAPL", "MSFT")}
        out += [stat(ScopeKind.TICKER, t, i, n) for t, n in counts.items() if n]
        if sum(counts.values()):
            out.append(stat(ScopeKind.ALL, "*", i, sum(counts.values()) + rng.randint(0, 3)))
    return out


def check_every_range(history: History, rng: random.Random) -> None:
    for key, series in history.scopes.items():
        held = sorted(series.stats) or [FIRST]
        for _ in range(60):
            first = rng.randint(held[0] - 5, held[-1] + 5)
            last = first + rng.randint(-2, 120)
            assert history.count_sum(series, first, last) == window_sum(series, first, last), key
            flow = window_sum(history.all, first, last) - window_sum(series, first, last)
            assert history.other_flow(first, last, series) == flow
            negatives = window_sum(series, first, last, "negative")
            assert history.negative_sum(series, first, last) == negatives
            n, neg, _ = capped_history(series, first, last, 4.0)
            got = history.own_history(key, first, last, 4.0)
            assert got[0] == n and got[1] == pytest.approx(neg, rel=1e-12, abs=1e-12)


def test_running_totals_give_the_walked_sums_through_changes() -> None:
    rng = random.Random(11)
    history = History(SIZE, T0, history_windows=96)
    history.replace(windows(rng, 0, 80), T0, T0 + timedelta(seconds=SIZE * 80))
    check_every_range(history, rng)
    # a batch: new windows, and a late item that changes an old window
    late = [stat(ScopeKind.ALL, "*", 10, 40), stat(ScopeKind.TICKER, "AAPL", 10, 30)]
    history.replace(late, T0 + timedelta(seconds=SIZE * 10), T0 + timedelta(seconds=SIZE * 11))
    assert history.count_sum(history.scopes[ALL_KEY], FIRST + 10, FIRST + 10) == 40.0
    history.replace(
        windows(rng, 80, 120), T0 + timedelta(seconds=SIZE * 80), T0 + timedelta(seconds=SIZE * 120)
    )
    check_every_range(history, rng)
    history.prune(T0 + timedelta(seconds=SIZE * 60), T0 + timedelta(seconds=SIZE * 30))
    assert min(history.scopes[("ticker", "AAPL")].stats) >= FIRST + 60
    check_every_range(history, rng)


def test_an_empty_or_unknown_series_sums_to_nothing() -> None:
    history = History(SIZE, T0, history_windows=96)
    assert history.flow(FIRST, FIRST + 10) == 0.0
    history.replace([stat(ScopeKind.ALL, "*", 3, 5)], T0, T0 + timedelta(seconds=SIZE * 4))
    assert history.flow(FIRST, FIRST + 10) == 5.0
    assert history.flow(FIRST + 4, FIRST + 10) == 0.0
    assert history.flow(FIRST + 3, FIRST + 2) == 0.0


def test_capped_sums_from_totals_are_the_walked_ones() -> None:
    """A burst capped at cap_factor x the mean: the totals' answer equals the window walk."""
    rng = random.Random(5)
    history = History(SIZE, T0, history_windows=96)
    stats = windows(rng, 0, 150)
    bursts = [stat(ScopeKind.TICKER, "AAPL", i, 40 + i % 7) for i in (20, 21, 90, 149)]
    stats = [
        s for s in stats if not (s.scope_value == "AAPL" and s.start in {b.start for b in bursts})
    ]
    history.replace(stats + bursts, T0, T0 + timedelta(seconds=SIZE * 150))
    capped_somewhere = False
    for key, series in history.scopes.items():
        totals = history.totals(series)
        assert totals is not None
        for _ in range(300):
            first = FIRST + rng.randint(-5, 150)
            last = first + rng.randint(-1, 100)
            n, neg, count = capped_history(series, first, last, 4.0)
            got = history.own_history(key, first, last, 4.0)
            assert got[:3] == pytest.approx((n, neg, count), rel=1e-12, abs=1e-12), (
                key,
                first,
                last,
            )
            assert got[0] == n  # whole numbers: exact
            capped_somewhere |= n < window_sum(series, first, last)
        assert history.negative_sum(series, FIRST, FIRST + 149) == window_sum(
            series, FIRST, FIRST + 149, "negative"
        )
    assert capped_somewhere  # the bursts were capped in some ranges


def test_totals_kept_up_to_date_through_random_batches_equal_a_fresh_walk() -> None:
    """Batches that add windows at the end, rewrite old ones (late items), empty some (an item
    re-marked a duplicate) or reach before the first window, and prunes: the totals kept up to
    date answer as a walk over the windows does, capped sums included."""
    rng = random.Random(23)
    history = History(SIZE, T0, history_windows=96)
    history.replace(windows(rng, 20, 60), T0, T0 + timedelta(seconds=SIZE * 60))
    check_every_range(history, rng)
    end = 60
    for step in range(30):
        if step % 3 == 0:
            lo, hi = end, end + rng.randint(1, 12)  # new windows
            end = hi
        else:
            lo = rng.randint(0, end - 1)  # late: rewrite (or empty) an old stretch
            hi = min(end, lo + rng.randint(1, 8))
        fresh = windows(rng, lo, hi) if rng.random() < 0.8 else []
        if fresh and rng.random() < 0.3:
            fresh.append(stat(ScopeKind.TICKER, "AAPL", lo, 50))  # a burst, to be capped
            fresh = [
                s for s in fresh if not (s.scope_value == "AAPL" and s.start == fresh[-1].start)
            ] + fresh[-1:]
        history.replace(fresh, T0 + timedelta(seconds=SIZE * lo), T0 + timedelta(seconds=SIZE * hi))
        check_every_range(history, rng)
        if step % 7 == 6:  # the engine prunes what the detectors no longer read
            cut = T0 + timedelta(seconds=SIZE * rng.randint(0, end - 20))
            history._pruned = -100  # a prune is at most once an hour of event time: force it
            history.prune(cut, cut - timedelta(seconds=SIZE * 5))
            check_every_range(history, rng)
    assert all(s.totals is not None for s in history.scopes.values() if s.stats)


def test_the_cross_section_priors_read_the_walked_sums(monkeypatch: pytest.MonkeyPatch) -> None:
    """The priors' per-scope (items, negatives) before an hour come from the running totals; they
    are the sums a walk over each scope's windows gives, through late rewrites and prunes."""
    seen: list[tuple[list[tuple[float, float]], float]] = []

    def record(rows: list[tuple[float, float]], flow: float, max_weight: float) -> CrossSection:
        seen.append((rows, flow))
        return DEFAULT_PRIOR

    monkeypatch.setattr(history_module, "fit_cross_section", record)
    rng = random.Random(31)
    history = History(SIZE, T0, history_windows=48)
    history.replace(windows(rng, 0, 40), T0, T0 + timedelta(seconds=SIZE * 40))
    end = 40
    for step in range(24):
        lo = end if step % 2 else rng.randint(0, end - 1)
        hi = lo + rng.randint(1, 10)
        end = max(end, hi)
        history.replace(
            windows(rng, lo, hi),
            T0 + timedelta(seconds=SIZE * lo),
            T0 + timedelta(seconds=SIZE * hi),
        )
        if step % 5 == 4:
            history._pruned = -100
            cut = T0 + timedelta(seconds=SIZE * rng.randint(0, end - 12))
            history.prune(cut, cut)
        for _ in range(5):
            history._priors.clear()
            end_index = FIRST + rng.randint(0, end + 12)
            history.prior("ticker", end_index, 50.0)
            hi_i = end_index // PRIOR_PERIOD * PRIOR_PERIOD
            lo_i = max(hi_i - history.history_windows, history.origin_index)
            walked = []
            for (kind, _), series in sorted(history.scopes.items()):
                if kind == "ticker":
                    n = window_sum(series, lo_i, hi_i - 1)
                    if n > 0:
                        walked.append((n, window_sum(series, lo_i, hi_i - 1, "negative")))
            rows, flow = seen[-1]
            assert rows == walked
            assert flow == window_sum(history.all, lo_i, hi_i - 1)
    assert any(len(rows) == 2 for rows, _ in seen)  # both tickers counted somewhere
