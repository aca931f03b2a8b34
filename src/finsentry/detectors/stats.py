"""Upper-tail probabilities the detectors turn into scores, computed in log space.

Counts of news items are modelled as Poisson given a rate; a rate that is itself uncertain (estimated
from a short history, or borrowed from a prior over comparable scopes) makes the predictive
distribution negative binomial. Shares (negative items out of all items) are binomial given a share,
beta-binomial when the share is uncertain. A score is the tail probability expressed as a normal
quantile (``z_of_log_p``), so thresholds read the same for every detector: 6 is about 1e-9.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

__all__ = [
    "betabinom_log_sf",
    "binomial_sf",
    "nbinom_log_sf",
    "poisson_log_sf",
    "poisson_sf",
    "z_of_log_p",
]

_NORMAL = NormalDist()
_LOG_TINY = math.log(1e-300)
_MOST_TERMS = 100_000


def _tail_from(
    log_first: float, ratio: Callable[[float], float], start: float, stop: float | None
) -> float:
    """log of sum_{j >= start} term_j given log term_start and term_{j+1}/term_j = ratio(j)."""
    total, term, j = 1.0, 1.0, start
    while stop is None or j < stop:
        term *= ratio(j)
        total += term
        j += 1.0
        if term < total * 1e-13 or j - start > _MOST_TERMS:
            break
    return log_first + math.log(total)


def poisson_log_sf(k: float, lam: float) -> float:
    """log P(X >= k) for X ~ Poisson(lam); 0.0 (p = 1) when k is not above the mean."""
    if k <= 0 or k <= lam:
        return 0.0
    if lam <= 0:
        return -math.inf
    log_first = -lam + k * math.log(lam) - math.lgamma(k + 1.0)
    # _tail_from(log_first, lambda j: lam / (j + 1.0), k, None), the same sums without a call a
    # term: a scope with a week of history has a rate that takes a dozen terms
    total, term, j = 1.0, 1.0, k
    while True:
        term *= lam / (j + 1.0)
        total += term
        j += 1.0
        if term < total * 1e-13 or j - k > _MOST_TERMS:
            break
    return min(0.0, log_first + math.log(total))


def poisson_sf(k: float, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam) (upper tail only: 1.0 when k <= lam)."""
    return math.exp(poisson_log_sf(math.ceil(k), lam))


def nbinom_log_sf(k: float, shape: float, mean: float) -> float:
    """log P(X >= k) for a negative binomial with ``shape`` r and ``mean`` (a Gamma-Poisson).

    A large shape tends to Poisson(mean); a small one (a rate known only roughly) has a heavy tail.
    """
    if k <= 0 or k <= mean:
        return 0.0
    if mean <= 0:
        return -math.inf
    if shape > 1e6:
        return poisson_log_sf(k, mean)
    q = shape / (shape + mean)  # success probability
    log_first = (
        math.lgamma(k + shape)
        - math.lgamma(shape)
        - math.lgamma(k + 1.0)
        + shape * math.log(q)
        + k * math.log1p(-q)
    )
    # _tail_from(log_first, lambda j: (j + shape) / (j + 1.0) * (1.0 - q), k, None), inlined
    fail = 1.0 - q
    total, term, j = 1.0, 1.0, k
    while True:
        term *= (j + shape) / (j + 1.0) * fail
        total += term
        j += 1.0
        if term < total * 1e-13 or j - k > _MOST_TERMS:
            break
    return min(0.0, log_first + math.log(total))


def betabinom_log_sf(k: int, n: int, alpha: float, beta: float) -> float:
    """log P(K >= k) for K ~ BetaBinomial(n, alpha, beta); 0.0 when k is not above the mean."""
    if k <= 0 or k <= n * alpha / (alpha + beta):
        return 0.0
    if k > n:
        return -math.inf
    log_first = (
        math.lgamma(n + 1.0)
        - math.lgamma(k + 1.0)
        - math.lgamma(n - k + 1.0)
        + math.lgamma(k + alpha)
        + math.lgamma(n - k + beta)
        - math.lgamma(n + alpha + beta)
        - math.lgamma(alpha)
        - math.lgamma(beta)
        + math.lgamma(alpha + beta)
    )

    def ratio(j: float) -> float:
        return (n - j) / (j + 1.0) * (j + alpha) / (n - j - 1.0 + beta)

    return min(0.0, _tail_from(log_first, ratio, float(k), float(n)))


def binomial_sf(k: float, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), by summing the upper tail."""
    k_int = math.ceil(k)
    if k_int <= 0:
        return 1.0
    if k_int > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(k_int, n + 1):
        log_c = math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
        total += math.exp(log_c + i * log_p + (n - i) * log_q)
    return min(1.0, total)


def z_of_log_p(log_p: float) -> float:
    """The normal quantile with the same upper tail: z such that P(Z >= z) = exp(log_p)."""
    if log_p >= math.log(0.5):
        return 0.0
    if log_p > _LOG_TINY:
        return -_NORMAL.inv_cdf(math.exp(log_p))
    # Mills ratio asymptotics for extreme tails: log p ~ -z^2/2 - log(z sqrt(2 pi))
    if log_p == -math.inf:
        return 40.0
    z = math.sqrt(-2.0 * log_p)
    for _ in range(3):
        z = math.sqrt(max(1.0, -2.0 * log_p - 2.0 * math.log(z * math.sqrt(2.0 * math.pi))))
    return z
