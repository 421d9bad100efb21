"""Percentiles and verdicts, shared by the benchmark scripts."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

__all__ = ["ms", "percentile", "verdict"]


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): with 200 samples p99 is the 2nd largest."""
    if not samples:
        return math.nan
    if q == 50:
        return statistics.median(samples)
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"
