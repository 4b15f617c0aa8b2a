"""95 % confidence intervals for the arms' comparison (issue 15): a mean, a difference of means, a share and a
difference of shares. No statistics library is installed, so Student's t comes from the regularised incomplete
beta function (a continued fraction, as in Numerical Recipes §6.4), checked against the printed t tables in
tests/test_trial_report.py.

- mean: t interval, mean ± t(0.975, n − 1) · sd / √n;
- difference of two means: Welch's interval (unequal variances, Welch–Satterthwaite degrees of freedom);
- share: Wilson's score interval (sensible at 0 % and 100 % and for small n, unlike mean ± 1.96 · se);
- difference of two shares: Newcombe's hybrid score interval (method 10), from the two Wilson intervals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

LEVEL = 0.95
Z = NormalDist().inv_cdf(0.5 + LEVEL / 2)  # 1.959964...


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def _betacf(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((a + m2 - 1) * (a + m2)), -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _incomplete_beta(a: float, b: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    tail = 0.5 * _incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t value below which a share `p` of Student's t with `df` (any positive real) degrees of freedom lies."""
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError("p in (0, 1) and df > 0")
    low, high = -1e3, 1e3
    for _ in range(200):  # bisection: t_cdf is increasing
        mid = (low + high) / 2.0
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2.0


def _mean_var(values: Sequence[float]) -> tuple[float, float]:
    mean = math.fsum(values) / len(values)
    return mean, math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)


def mean_interval(values: Sequence[float]) -> Interval | None:
    """None below two values."""
    if len(values) < 2:
        return None
    mean, var = _mean_var(values)
    half = t_quantile(0.5 + LEVEL / 2, len(values) - 1) * math.sqrt(var / len(values))
    return Interval(mean, mean - half, mean + half)


def welch_df(var1: float, n1: int, var2: float, n2: int) -> float:
    a, b = var1 / n1, var2 / n2
    return (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))


def difference_of_means(first: Sequence[float], second: Sequence[float]) -> Interval | None:
    """mean(first) − mean(second), Welch's interval; None below two values in either, or with no spread at all."""
    if len(first) < 2 or len(second) < 2:
        return None
    (m1, v1), (m2, v2) = _mean_var(first), _mean_var(second)
    if v1 == 0 and v2 == 0:
        return None
    se = math.sqrt(v1 / len(first) + v2 / len(second))
    half = t_quantile(0.5 + LEVEL / 2, welch_df(v1, len(first), v2, len(second))) * se
    return Interval(m1 - m2, m1 - m2 - half, m1 - m2 + half)


def wilson(part: int, whole: int) -> Interval | None:
    """`part` of `whole` as a share (0-1) with Wilson's interval; None of nobody."""
    if whole <= 0:
        return None
    p = part / whole
    centre = (p + Z * Z / (2 * whole)) / (1 + Z * Z / whole)
    half = Z * math.sqrt(p * (1 - p) / whole + Z * Z / (4 * whole * whole)) / (1 + Z * Z / whole)
    return Interval(p, centre - half, centre + half)


def difference_of_shares(part1: int, whole1: int, part2: int, whole2: int) -> Interval | None:
    """share 1 − share 2 (0-1), Newcombe's hybrid score interval."""
    first, second = wilson(part1, whole1), wilson(part2, whole2)
    if first is None or second is None:
        return None
    d = first.estimate - second.estimate
    low = d - math.sqrt((first.estimate - first.low) ** 2 + (second.high - second.estimate) ** 2)
    high = d + math.sqrt((first.high - first.estimate) ** 2 + (second.estimate - second.low) ** 2)
    return Interval(d, low, high)
