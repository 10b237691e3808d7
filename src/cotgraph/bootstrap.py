"""The percentile bootstrap over traces, shared by :mod:`cotgraph.compare` and
:mod:`cotgraph.outcomes` (Efron & Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 13):
resample the traces with replacement, take the mean of each resample, and read the interval off
the quantiles of those means."""

from __future__ import annotations

import math

import numpy as np


def bootstrap_means(values: np.ndarray, rng: np.random.Generator, n_boot: int, binary: bool = False) -> np.ndarray:
    """``n_boot`` bootstrap means of ``values``. For yes/no values the resampled count is exactly
    Binomial(n, k/n) and is drawn as such (the same distribution, with no n × n_boot matrix); other
    values are resampled in blocks of at most four million draws."""
    n = len(values)
    if binary:
        return rng.binomial(n, float(values.mean()), size=n_boot) / n
    out = np.empty(n_boot)
    rows = max(1, 4_000_000 // n)
    for start in range(0, n_boot, rows):
        stop = min(n_boot, start + rows)
        out[start:stop] = values[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    return out


def percentile_interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` interval of bootstrap samples (the percentile method)."""
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(samples, [alpha, 1.0 - alpha])
    return float(low), float(high)


def bootstrap_ci(
    values: np.ndarray, n_boot: int = 2000, seed: int = 0, level: float = 0.95, binary: bool = False
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (deterministic for a seed); NaN for
    no values, the value itself for one."""
    n = len(values)
    if n == 0:
        return (math.nan, math.nan)
    if n == 1 or n_boot <= 0:
        v = float(values.mean())
        return (v, v)
    return percentile_interval(bootstrap_means(values, np.random.default_rng(seed), n_boot, binary), level)
