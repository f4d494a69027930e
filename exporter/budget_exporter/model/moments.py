"""Times as text in the records the exporter keeps (the state folder, kept file groups).

ISO 8601 with a UTC offset, read back to the nanosecond; a time without an offset is refused,
since a kept record that lost its offset cannot say which instant it meant.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd


def moment_text(moment: datetime | None) -> str | None:
    """A time as text for a kept record (None stays None)."""
    return moment.isoformat() if moment is not None else None


def moment_of(text: str | None) -> pd.Timestamp | None:
    """The time a kept record's text holds (None for none); ValueError when it is not a time
    or has no UTC offset."""
    if not text:
        return None
    moment = pd.Timestamp(text)
    if moment is pd.NaT or moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return moment
