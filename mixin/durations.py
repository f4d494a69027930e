"""Prometheus durations as the windows spell them."""

HOURS_PER_UNIT = {"m": 1 / 60, "h": 1, "d": 24, "w": 24 * 7}


def hours(duration: str) -> float:
    """Length of a one-unit Prometheus duration such as ``30m``, ``6h`` or ``3d``, in hours."""
    return int(duration[:-1]) * HOURS_PER_UNIT[duration[-1]]
