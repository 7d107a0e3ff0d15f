"""Conversion rates and the uplift of a campaign over its holdout, with a 95 % confidence interval.

The interval of a difference of two proportions is Newcombe's hybrid score interval (Newcombe
1998, "Interval estimation for the difference between independent proportions", method 10): it
combines the Wilson score intervals of the two rates, stays inside [-1, 1] and behaves with few
conversions, where the textbook Wald interval does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal distribution
MIN_GROUP = 30  # contacts per group below which a comparison is not shown as a finding


def wilson(converted: int, contacts: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``converted / contacts``."""
    if contacts <= 0:
        raise ValueError("a rate needs at least one contact")
    n, p = contacts, converted / contacts
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Uplift:
    """The difference ``rate - base_rate`` (in shares, 0.05 = 5 points) and its interval."""

    difference: float
    low: float
    high: float

    @property
    def clear(self) -> bool:
        """The interval does not include zero."""
        return self.low > 0 or self.high < 0


def newcombe(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> Uplift:
    """Newcombe's hybrid score interval for ``x1/n1 - x2/n2``."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    d = p1 - p2
    return Uplift(
        difference=d,
        low=d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
        high=d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
    )


def points(share: float) -> str:
    """A difference of rates in percentage points: ``+3.1``."""
    return f"{share * 100:+.1f}"


def verdict(x1: int, n1: int, x2: int, n2: int, against: str = "the holdout") -> str:
    """One plain sentence on whether the group converted better than ``against``."""
    if min(n1, n2) < MIN_GROUP:
        return (f"Too small to tell yet: {n1:,} contacts against {n2:,} in {against}; wait for "
                f"at least {MIN_GROUP} in each group.")  # fmt: skip
    u = newcombe(x1, n1, x2, n2)
    interval = f"95 % CI {points(u.low)} to {points(u.high)} points"
    if u.clear and u.difference > 0:
        return f"Converted better than {against} by {points(u.difference)} points ({interval})."
    if u.clear:
        return f"Converted worse than {against} by {points(u.difference)} points ({interval})."
    return (f"No difference shown yet: {points(u.difference)} points against {against}, but "
            f"the interval ({interval}) includes zero: the groups are still too small to "
            "tell a difference of this size.")  # fmt: skip
