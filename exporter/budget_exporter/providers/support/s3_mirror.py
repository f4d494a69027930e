"""Local copies of S3 objects (billing exports), downloaded again only when their ETag changes.

A pattern ``s3://bucket/prefix/**/*.parquet`` lists the objects under the part before the first
wildcard and keeps the keys the whole pattern matches (``*`` also crosses ``/``). Local copies
of objects gone from S3 are deleted, so a replaced export version is not read twice.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from ...model.errors import ProviderError
from .atomic import atomic_write
from .aws_client import aws_error

log = logging.getLogger(__name__)

S3_URL = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/(?P<key>.*)$")
WILDCARDS = re.compile(r"[*?\[]")
INDEX = ".etags.json"


def is_s3_url(pattern: str) -> bool:
    """Whether a configured path points into S3."""
    return pattern.startswith("s3://")


class S3Mirror:
    """Mirrors the objects matching S3 patterns into ``folder``."""

    def __init__(self, provider: str, folder: Path, client_factory: Callable[[], Any]):
        self.provider = provider
        self.folder = folder
        self.client_factory = client_factory
        self._client: Any = None

    def sync(self, pattern: str) -> list[Path]:
        """Download new or changed objects matching ``pattern``; return their local paths."""
        match = S3_URL.match(pattern)
        if match is None:
            raise ProviderError(
                f"provider {self.provider}: {pattern!r} is not an S3 URL such as "
                "s3://bucket/prefix/*.parquet"
            )
        bucket, key_pattern = match["bucket"], match["key"]
        wildcard = WILDCARDS.search(key_pattern)
        prefix = key_pattern[: wildcard.start()] if wildcard else key_pattern
        objects = {
            key: etag
            for key, etag in self._list(bucket, prefix)
            if fnmatch.fnmatchcase(key, key_pattern)
        }
        if not objects:
            raise ProviderError(f"provider {self.provider}: no S3 object matches {pattern}")
        root = self.folder / bucket
        index_path = root / INDEX
        index = self._read_index(index_path)
        for key, etag in sorted(objects.items()):
            local = self._local(root, key)
            if index.get(key) != etag or not local.exists():
                self._download(bucket, key, local)
                index[key] = etag
        for key in [k for k in index if k.startswith(prefix) and k not in objects]:
            self._local(root, key).unlink(missing_ok=True)
            del index[key]
        self._write_index(index_path, index)
        return [self._local(root, key) for key in sorted(objects)]

    def _client_or_new(self) -> Any:
        if self._client is None:
            self._client = self.client_factory()
        return self._client

    def _list(self, bucket: str, prefix: str) -> list[tuple[str, str]]:
        from botocore.exceptions import BotoCoreError, ClientError

        found: list[tuple[str, str]] = []
        try:
            pages = self._client_or_new().get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=bucket, Prefix=prefix):
                found += [(item["Key"], item.get("ETag", "")) for item in page.get("Contents", [])]
        except (BotoCoreError, ClientError) as error:
            raise aws_error(
                self.provider, f"listing s3://{bucket}/{prefix}", error, "s3:ListBucket"
            ) from None
        return found

    def _download(self, bucket: str, key: str, local: Path) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        log.info("provider %s: downloading s3://%s/%s", self.provider, bucket, key)
        try:
            answer = self._client_or_new().get_object(Bucket=bucket, Key=key)
            payload = answer["Body"].read()
        except (BotoCoreError, ClientError) as error:
            raise aws_error(
                self.provider, f"reading s3://{bucket}/{key}", error, "s3:GetObject"
            ) from None
        atomic_write(local, payload)

    def _local(self, root: Path, key: str) -> Path:
        parts = PurePosixPath(key).parts
        if any(part in ("..", "") for part in parts) or key.startswith("/"):
            raise ProviderError(f"provider {self.provider}: refusing S3 key {key!r}")
        return root.joinpath(*parts)

    def _read_index(self, path: Path) -> dict[str, str]:
        try:
            return {str(k): str(v) for k, v in json.loads(path.read_text()).items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, AttributeError):
            # An unreadable index only costs downloads: every object is fetched again.
            return {}

    def _write_index(self, path: Path, index: dict[str, str]) -> None:
        atomic_write(path, json.dumps(index, indent=1, sort_keys=True).encode())
