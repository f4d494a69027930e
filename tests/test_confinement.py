"""Providers read only where the config points: object keys found in a bucket listing cannot
make the exporter write or read outside its folder for copies."""

from __future__ import annotations

from pathlib import Path

import pytest

from budget_exporter.model.errors import ProviderError
from test_aws_cur import LISTING, NOW, listing, s3_provider


def test_an_s3_key_that_would_leave_the_copies_folder_is_refused(tmp_path: Path) -> None:
    key = "exports/data/BILLING_PERIOD=2026-03/../../../../../../escaped.parquet"
    provider, stubber = s3_provider(tmp_path / "config", cache_dir="mirror")
    stubber.add_response("list_objects_v2", listing((key, '"e1"')), LISTING)
    with pytest.raises(ProviderError, match="refusing S3 key"):
        provider.fetch(NOW)
    stubber.assert_no_pending_responses()  # nothing was downloaded
    assert not list(tmp_path.rglob("escaped.parquet"))
