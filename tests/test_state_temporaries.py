"""Temporary files that a crash left in the state folder are removed when a process takes the
lead, in every folder the leader writes, and nothing else is."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from budget_exporter.service.state import StateDir


def left_by_a_crash(folder: Path, name: str) -> Path:
    """The temporary file an atomic write of ``folder/name`` leaves when killed mid-write."""
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    os.write(handle, b"half")
    os.close(handle)
    return Path(temporary)


def test_taking_the_lead_removes_stale_temporaries_of_kept_groups_and_keeps_live_files(tmp_path):
    kept = tmp_path / "cache" / "files" / "billing.0123456789abcdef"
    live = [kept / "a1b2.json", kept / "a1b2.parquet", tmp_path / "providers" / "costs.json"]
    # Dot files that are not an atomic write's temporaries are someone's, never removed.
    live += [kept / ".keep", kept / ".a1b2.json.partial", tmp_path / "cache" / ".hidden"]
    for path in live:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"live")
    stale = [
        left_by_a_crash(kept, "a1b2.json"),
        left_by_a_crash(kept, "a1b2.parquet"),
        left_by_a_crash(tmp_path / "cache" / "files" / "other.fedcba9876543210", "c3.json"),
        left_by_a_crash(tmp_path / "cache", "ledger.json"),
        left_by_a_crash(tmp_path / "providers", "costs.json"),
        left_by_a_crash(tmp_path, "metrics.prom"),
    ]
    state = StateDir(tmp_path)
    assert state.try_lead()
    try:
        assert [path for path in stale if path.exists()] == []
        assert [path.read_bytes() for path in live] == [b"live"] * len(live)
    finally:
        state.release()


def test_a_process_that_does_not_lead_removes_nothing(tmp_path):
    leader = StateDir(tmp_path)
    assert leader.try_lead()
    try:
        stale = left_by_a_crash(tmp_path / "cache" / "files" / "billing.0123456789abcdef", "x.json")
        follower = StateDir(tmp_path)
        assert not follower.try_lead()
        assert stale.exists()  # it may be the leader's write under way
    finally:
        leader.release()
