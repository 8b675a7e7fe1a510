"""Default sample sizes and seeds of the calibration (``thetaplan calibrate``).

Plain constants with no import, so that the command line can show them as option defaults
without loading :mod:`models.measure.calibration` (pandas, scipy). :mod:`models.measure.calibration` re-exports
them; use them from there.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_MEAN_BLOCK",
    "DEFAULT_PATHS",
    "DEFAULT_REPLAY_PATHS",
    "DEFAULT_REPLAY_SEED",
    "DEFAULT_SEED",
]

DEFAULT_PATHS = 40_000
"""FHS / lognormal paths per (horizon, VIX bucket) cell of the tail table."""
DEFAULT_SEED = 20_240_805
"""Seed of the tail table (cell ``i`` uses ``seed + 1 + i``)."""
DEFAULT_REPLAY_PATHS = 30_000
"""Model paths per holding period of the replay table."""
DEFAULT_REPLAY_SEED = 20_260_130
"""Seed of the replay table."""
DEFAULT_MEAN_BLOCK = 21.0
"""Mean block of the stationary bootstrap, trading days."""
