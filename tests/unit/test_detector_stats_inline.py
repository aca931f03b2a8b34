"""The Poisson and negative binomial tails sum their terms inline: exactly the sums of the general
term-by-term helper they replace."""

from __future__ import annotations

import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from finsentry.detectors.stats import _tail_from, nbinom_log_sf, poisson_log_sf

counts = st.integers(1, 400).map(float)
rates = st.floats(0.01, 300.0)


@settings(max_examples=400, deadline=None)
@given(k=counts, lam=rates)
@example(k=40.0, lam=30.0)
def test_the_poisson_tail_is_the_general_sum(k: float, lam: float) -> None:
    if k <= lam:
        assert poisson_log_sf(k, lam) == 0.0
        return
    log_first = -lam + k * math.log(lam) - math.lgamma(k + 1.0)
    expected = min(0.0, _tail_from(log_first, lambda j: lam / (j + 1.0), k, None))
    assert poisson_log_sf(k, lam) == expected


@settings(max_examples=400, deadline=None)
@given(k=counts, shape=st.floats(0.05, 5e5), mean=rates)
@example(k=25.0, shape=3.0, mean=10.0)
def test_the_negative_binomial_tail_is_the_general_sum(k: float, shape: float, mean: float) -> None:
    if k <= mean:
        assert nbinom_log_sf(k, shape, mean) == 0.0
        return
    q = shape / (shape + mean)
    log_first = (
        math.lgamma(k + shape) - math.lgamma(shape) - math.lgamma(k + 1.0)
        + shape * math.log(q) + k * math.log1p(-q)
    )  # fmt: skip
    ratio = lambda j: (j + shape) / (j + 1.0) * (1.0 - q)  # noqa: E731
    assert nbinom_log_sf(k, shape, mean) == min(0.0, _tail_from(log_first, ratio, k, None))
