"""The all scope's robust baseline: computed on one sorted copy and, for whole numbers, in
integers; the figures must be exactly those of the :mod:`statistics` functions it replaces."""

from __future__ import annotations

import math
import statistics
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from finsentry.detectors.volume import MAD_TO_SD, _root_of_ratio, robust_baseline


def by_statistics(values: list[float], k: float) -> tuple[float, float, int]:
    """The definition, with the statistics module."""
    med = statistics.median(values)
    mad = statistics.median(abs(v - med) for v in values) * MAD_TO_SD
    spread = max(mad, math.sqrt(max(med, 0.0)), 1.0)
    kept = [v for v in values if abs(v - med) < k * spread]
    mean = statistics.fmean(kept)
    kmed = statistics.median(kept)
    sd = statistics.median(abs(v - kmed) for v in kept) * MAD_TO_SD
    if len(kept) >= 8:
        sd = max(sd, statistics.pstdev(kept))
    return mean, sd, len(kept)


counts = st.lists(st.integers(0, 60).map(float), min_size=1, max_size=45)
large = st.lists(st.integers(0, 10**12).map(float), min_size=1, max_size=30)
fractional = st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=30)
spiked = st.tuples(counts, st.lists(st.integers(100, 5000).map(float), max_size=3)).map(
    lambda pair: pair[0] + pair[1]
)


@settings(max_examples=500)
@given(st.one_of(counts, large, fractional, spiked), st.sampled_from([2.0, 3.0, 4.0, 5.0]))
def test_the_figures_are_exactly_those_of_statistics(values: list[float], k: float) -> None:
    assert robust_baseline(values, k) == by_statistics(values, k)


@given(st.integers(0, 10**40), st.integers(1, 10**20))
def test_the_root_of_a_ratio_is_correctly_rounded(p: int, q: int) -> None:
    root = _root_of_ratio(p, q)
    target = Fraction(p, q)  # the root's square, exactly
    if p == 0:
        assert root == 0.0
        return
    # the true root lies between the midpoints to the floats on either side
    below, above = math.nextafter(root, 0.0), math.nextafter(root, math.inf)
    assert ((Fraction(root) + Fraction(below)) / 2) ** 2 <= target
    assert target <= ((Fraction(root) + Fraction(above)) / 2) ** 2


def test_whole_numbers_given_as_ints_take_the_same_path() -> None:
    values = [10, 11, 9, 10, 12, 10, 9, 11, 80, 10]
    assert robust_baseline(values, 4.0) == by_statistics([float(v) for v in values], 4.0)


def test_a_root_just_above_a_midpoint_rounds_up() -> None:
    # sqrt lands a hair above the midpoint between 1.0 and the next float: scaled and floored it
    # is the midpoint itself, a tie that would round down to the even 1.0 without the last bit
    midpoint = Fraction(1) + Fraction(1, 2**53)
    target = midpoint**2 + Fraction(1, 2**200)
    assert _root_of_ratio(target.numerator, target.denominator) == math.nextafter(1.0, 2.0)
    below = midpoint**2 - Fraction(1, 2**200)
    assert _root_of_ratio(below.numerator, below.denominator) == 1.0
