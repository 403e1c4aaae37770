"""The listener's breath clock: a pace in breaths per minute that the script can change, and where each
inhale and exhale begins. Phrases wait for it; breathing beds swell with it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..script import Breath


@dataclass(frozen=True)
class BreathChange:
    """The breath pace moving from ``from_pace`` to ``to_pace`` breaths per minute, starting at ``start_s``."""

    start_s: float
    from_pace: float
    to_pace: float
    over_s: float = 0.0
    """0: at once."""

    @property
    def end_s(self) -> float:
        return self.start_s + self.over_s


@dataclass(frozen=True)
class BreathClock:
    """Breaths per minute over time: a base pace and the changes the script makes to it."""

    breath: Breath
    changes: tuple[BreathChange, ...] = ()

    def pace_at(self, t: float) -> float:
        pace = self.breath.pace
        for change in self.changes:
            if t >= change.start_s:
                done = change.over_s <= 0 or t >= change.end_s
                pace = (
                    change.to_pace
                    if done
                    else change.from_pace + (change.to_pace - change.from_pace) * (t - change.start_s) / change.over_s
                )
        return pace

    def cycles(self, t: float) -> float:
        """Breath cycles completed since the start of the track (exact for linear ramps)."""
        points = sorted(
            {
                0.0,
                t,
                *[c.start_s for c in self.changes if c.start_s < t],
                *[c.end_s for c in self.changes if c.end_s < t],
            }
        )
        total = 0.0
        for a, b in zip(points, points[1:]):
            total += (b - a) * (self.pace_at(a) + self.pace_at(b - 1e-9)) / 2 / 60
        return total

    def next_onset(self, t: float, phase: float) -> float:
        """The first time ≥ t at which a cycle reaches ``phase`` (0 = inhale onset, inhale_fraction = exhale onset)."""
        target = math.ceil(self.cycles(t) - phase - 1e-9) + phase
        low, high = t, t + 60 / 2.5  # past the next onset: a cycle lasts at most 20 s (a script's slowest pace is 3)
        for _ in range(32):  # bisection: cycles(t) only grows; 32 halvings of 24 s is well under a frame
            middle = (low + high) / 2
            low, high = (middle, high) if self.cycles(middle) < target else (low, middle)
        return high

    def onsets(self, until_s: float) -> list[tuple[float, str]]:
        """Every inhale and exhale onset before ``until_s``, as (seconds, "inhale" | "exhale"). The clock starts
        on an inhale at 0:00."""
        found, t = [], 0.0
        while t < until_s:
            found.append((t, "inhale"))
            exhale = self.next_onset(t, self.breath.inhale_fraction)
            if exhale < until_s:
                found.append((exhale, "exhale"))
            t = self.next_onset(exhale + 0.05, 0.0)
        return found

    def exhale_onsets(self, until_s: float) -> list[float]:
        onsets, t = [], self.next_onset(0.0, self.breath.inhale_fraction)
        while t < until_s:
            onsets.append(t)
            t = self.next_onset(t + 0.05, self.breath.inhale_fraction)
        return onsets
