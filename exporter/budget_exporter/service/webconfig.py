"""The web config file of the Prometheus exporter-toolkit: TLS and basic auth for every endpoint.

The same file that secures node_exporter works here::

    tls_server_config:
      cert_file: server.crt
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert   # optional, with client_ca_file
      client_ca_file: clients.crt
      min_version: TLS12
    basic_auth_users:
      prometheus: $2b$12$...   # bcrypt hash (htpasswd -nBC 12 prometheus)

Relative paths are relative to the web config file. TLS is done by gunicorn; basic auth by a
WSGI wrapper that remembers the result of each check (good or bad) and runs bcrypt one check at
a time, as exporter-toolkit does: a scrape every few seconds costs one bcrypt check per worker
instead of one per scrape, and repeated wrong passwords cost one check, not a core.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import logging
import os
import re
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import bcrypt
from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator

from ..config.checks import validation_message
from ..config.yaml_source import LineIndex, format_path, load_yaml_document
from ..model.errors import ConfigError, ConfigProblem
from ..model.fields import StrictModel

log = logging.getLogger(__name__)

TlsVersion = Literal["TLS10", "TLS11", "TLS12", "TLS13"]
ClientAuth = Literal["NoClientCert", "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"]
_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_CERT_REQS = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
REALM = "budget-exporter"
BCRYPT = re.compile(r"^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$")
# Results remembered per worker, the least recently used dropped first: a scraping setup
# has a handful of users; a brute force of new passwords gains nothing from the cache.
MAX_CACHED = 1024
# How long a request waits for its turn at bcrypt before it is answered 429: half the 10 s
# scrape timeout of Prometheus.
BCRYPT_WAIT = 5.0
POLL_INTERVAL, HANDOFF_PAUSE = 0.002, 0.005


class TlsServerConfig(StrictModel):
    """``tls_server_config``: the server's certificate and how clients must authenticate."""

    cert_file: str
    key_file: str
    client_auth_type: ClientAuth = "NoClientCert"
    client_ca_file: str | None = None
    min_version: TlsVersion = "TLS12"
    max_version: TlsVersion | None = None

    @model_validator(mode="after")
    def _ca_when_verifying(self) -> TlsServerConfig:
        if self.client_auth_type != "NoClientCert" and not self.client_ca_file:
            raise ValueError(f"client_auth_type {self.client_auth_type} needs client_ca_file")
        if self.max_version and _TLS_VERSIONS[self.max_version] < _TLS_VERSIONS[self.min_version]:
            raise ValueError("max_version is older than min_version")
        return self


def _bcrypt_hash(hashed: str) -> str:
    if not (BCRYPT.match(hashed) and 4 <= int(hashed[4:6]) <= 31):
        # Never echo the value: a plain password typed here by mistake is a secret.
        raise ValueError(
            "not a bcrypt hash ($2b$...); create one with htpasswd -nBC 12 USER "
            "or python -c 'import bcrypt; print(bcrypt.hashpw(b\"PASSWORD\", bcrypt.gensalt()))'"
        )
    return hashed


BcryptHash = Annotated[str, AfterValidator(_bcrypt_hash)]


class WebConfig(StrictModel):
    """The whole web config file."""

    tls_server_config: TlsServerConfig | None = None
    basic_auth_users: dict[str, BcryptHash] = Field(default_factory=dict)

    @field_validator("basic_auth_users")
    @classmethod
    def _user_names(cls, users: dict[str, str]) -> dict[str, str]:
        for user in users:
            if not user or ":" in user:
                raise ValueError(f"user name {user!r} must be non-empty and without ':'")
        return users


class LoadedWebConfig:
    """A validated web config with its paths resolved against the file's folder."""

    def __init__(self, config: WebConfig, source: str, base: Path):
        self.config = config
        self.source = source
        tls = config.tls_server_config
        self.cert_file = base / tls.cert_file if tls else None
        self.key_file = base / tls.key_file if tls else None
        self.client_ca_file = base / tls.client_ca_file if tls and tls.client_ca_file else None

    def gunicorn_settings(self) -> dict[str, Any]:
        """gunicorn's TLS settings for this config; without ``tls_server_config``, TLS off.

        Every key is given either way, so a reload that turns TLS off leaves no file behind.
        """
        tls = self.config.tls_server_config
        if tls is None:
            return {"certfile": None, "keyfile": None, "ca_certs": None, "cert_reqs": ssl.CERT_NONE}
        minimum = _TLS_VERSIONS[tls.min_version]
        maximum = _TLS_VERSIONS[tls.max_version] if tls.max_version else None

        def ssl_context(conf: Any, default_factory: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
            context = default_factory()
            context.minimum_version = minimum
            if maximum is not None:
                context.maximum_version = maximum
            return context

        return {
            "certfile": str(self.cert_file),
            "keyfile": str(self.key_file),
            "cert_reqs": _CERT_REQS[tls.client_auth_type],
            "ssl_context": ssl_context,
            "ca_certs": str(self.client_ca_file) if self.client_ca_file is not None else None,
        }

    def summary(self) -> str:
        """One line for logs and ``check``: TLS or not, how many users; never a hash."""
        tls = self.config.tls_server_config
        scheme = f"TLS ({tls.client_auth_type})" if tls else "no TLS"
        return f"{scheme}, {len(self.config.basic_auth_users)} basic auth user(s)"

    def wrap(
        self, app: Callable[..., Iterable[bytes]], lock_file: Path | None = None
    ) -> Callable[..., Iterable[bytes]]:
        """The app behind basic auth when users are configured, else the app itself.

        ``lock_file`` serializes bcrypt across the workers that share it.
        """
        if not self.config.basic_auth_users:
            return app
        return BasicAuth(app, self.config.basic_auth_users, BcryptGate(lock_file))


def load_web_config(path: str | Path) -> LoadedWebConfig:
    """Read and validate a web config file; ConfigError names file, key and line."""
    file = Path(path)
    source = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise ConfigError([ConfigProblem(source, "", f"cannot read: {reason}")]) from None
    # Shared with the main config: safe loading, alias bombs refused, line numbers kept.
    node, raw = load_yaml_document(text, source)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([ConfigProblem(source, "", "the web config must be a mapping", 1)])
    lines = LineIndex(node)
    try:
        config = WebConfig.model_validate(raw)
    except ValidationError as error:
        problems = []
        for item in error.errors(include_input=False, include_url=False):
            where = format_path(item["loc"])
            problems.append(
                ConfigProblem(source, where, validation_message(item), lines.line_of(where))
            )
        raise ConfigError(problems) from None
    loaded = LoadedWebConfig(config, source, file.resolve().parent)
    problems = _check_tls_files(loaded, lines)
    if problems:
        raise ConfigError(problems)
    return loaded


class WebConfigHolder:
    """The web config of the master process, replaced on reload only by a valid file.

    exporter-toolkit re-reads its file on every request; here the master reads it again on
    SIGHUP and ``POST /-/reload``, and the new workers start with it, so a leaked password is
    revoked without a restart.
    """

    def __init__(self, loaded: LoadedWebConfig):
        self.current = loaded
        self.reloads = 0
        self.failures = 0

    def reload(self) -> bool:
        """Read the file again; keep the current web config when the new one is invalid."""
        try:
            loaded = load_web_config(self.current.source)
        except ConfigError as error:
            self.failures += 1
            log_web_config_rejected(error)
            return False
        self.current = loaded
        self.reloads += 1
        log.info("web config reloaded from %s: %s", loaded.source, loaded.summary())
        return True


def log_web_config_rejected(error: ConfigError) -> None:
    """Log each problem of a rejected web config and that the running one stays."""
    log.error(
        "web config reload rejected: %d problem(s); the running web config stays",
        len(error.problems),
    )
    for problem in error.problems:
        log.error("  %s", problem)


def _check_tls_files(loaded: LoadedWebConfig, lines: Any) -> list[ConfigProblem]:
    """Load certificate, key and CA once now, so a bad file stops the start, not each worker."""
    if loaded.cert_file is None or loaded.key_file is None:
        return []
    problems = []
    where = "tls_server_config"
    for key, file in (("cert_file", loaded.cert_file), ("key_file", loaded.key_file)):
        if not file.is_file():
            path = f"{where}.{key}"
            problems.append(
                ConfigProblem(loaded.source, path, f"no such file: {file}", lines.line_of(path))
            )
    if not problems:
        try:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(loaded.cert_file, loaded.key_file)
        except (ssl.SSLError, OSError) as error:
            path = f"{where}.cert_file"
            reason = getattr(error, "reason", None) or error.strerror or type(error).__name__
            problems.append(
                ConfigProblem(
                    loaded.source,
                    path,
                    f"cannot use {loaded.cert_file} with {loaded.key_file}: {reason}",
                    lines.line_of(path),
                )
            )
    if loaded.client_ca_file is not None:
        path = f"{where}.client_ca_file"
        try:
            ssl.create_default_context(cafile=str(loaded.client_ca_file))
        except (ssl.SSLError, OSError) as error:
            reason = getattr(error, "reason", None) or error.strerror or type(error).__name__
            problems.append(
                ConfigProblem(
                    loaded.source,
                    path,
                    f"cannot read CA certificates {loaded.client_ca_file}: {reason}",
                    lines.line_of(path),
                )
            )
    return problems


class BcryptGate:
    """One bcrypt check at a time in the whole server, as exporter-toolkit serializes them.

    Threads of a worker queue on a lock; workers on an ``flock`` of ``lock_file``, which the
    kernel releases if a worker dies holding it. A caller waits at most ``timeout`` and is
    then told to come back, so a flood of wrong passwords holds no thread for long.
    """

    def __init__(self, lock_file: Path | None = None, timeout: float = BCRYPT_WAIT):
        self.lock_file = lock_file
        self.timeout = timeout
        self._threads = threading.Lock()
        self._handle: int | None = None
        self._pid = 0

    def _file(self) -> int | None:
        if self.lock_file is None:
            return None
        if self._pid != os.getpid():  # opened again after a fork: flock is per open file
            self._pid = os.getpid()
            try:
                self._handle = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                self._handle = None  # an unusable state directory: this worker alone, then
        return self._handle

    @contextlib.contextmanager
    def hold(self) -> Iterator[bool]:
        """True while this caller may run bcrypt; False when it waited ``timeout`` in vain."""
        deadline = time.monotonic() + self.timeout
        if not self._threads.acquire(timeout=self.timeout):
            yield False
            return
        try:
            handle = self._file()
            while handle is not None:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        yield False
                        return
                    time.sleep(POLL_INTERVAL)
            try:
                yield True
            finally:
                if handle is not None:
                    fcntl.flock(handle, fcntl.LOCK_UN)
                    # Waiters in other workers poll; without this pause the next thread of
                    # this worker would take the lock again at once and starve them.
                    time.sleep(HANDOFF_PAUSE)
        finally:
            self._threads.release()


class BasicAuth:
    """WSGI wrapper: HTTP basic auth against bcrypt hashes, answering 401 otherwise.

    Every result is remembered per user and password (as a SHA-256), good or bad, so a scraper
    repeating its password, or a client repeating a wrong one, costs one bcrypt check; checks
    that are not remembered run one at a time (``BcryptGate``).
    """

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        users: dict[str, str],
        gate: BcryptGate | None = None,
    ):
        self.app = app
        self._hashes = {user: hashed.encode() for user, hashed in users.items()}
        self._results: OrderedDict[bytes, bool] = OrderedDict()
        self._lock = threading.Lock()
        self.gate = gate or BcryptGate()
        self.bcrypt_checks = 0
        # Checked when the user is unknown, so that answer takes as long as for a known user.
        rounds = max(int(hashed[4:6]) for hashed in users.values())
        self._dummy = bcrypt.hashpw(b"budget-exporter", bcrypt.gensalt(rounds))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        verdict = self.check(environ.get("HTTP_AUTHORIZATION", ""))
        if verdict is True:
            return self.app(environ, start_response)
        if verdict is None:
            body = b"Too many password checks at once; try again\n"
            status, extra = "429 Too Many Requests", [("Retry-After", "1")]
        else:
            body = b"Unauthorized\n"
            status = "401 Unauthorized"
            extra = [("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')]
        start_response(
            status,
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                *extra,
            ],
        )
        return [body]

    def allowed(self, header: str) -> bool:
        """True when the Authorization header holds a configured user and right password."""
        return self.check(header) is True

    def check(self, header: str) -> bool | None:
        """True for a configured user with the right password, False otherwise, None when
        the password could not be checked now (too many checks waiting)."""
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, colon, password = decoded.partition(":")
        if not colon:
            return False
        secret = password.encode()
        key = hashlib.sha256(user.encode() + b"\0" + secret).digest()
        with self._lock:
            remembered = self._results.get(key)
            if remembered is not None:
                self._results.move_to_end(key)
                return remembered
        hashed = self._hashes.get(user)
        with self.gate.hold() as turn:
            if not turn:
                return None
            self.bcrypt_checks += 1
            try:
                good = bcrypt.checkpw(secret, hashed if hashed is not None else self._dummy)
            except ValueError:  # longer than bcrypt's 72 bytes: no hash can match it
                good = False
        good = good and hashed is not None
        with self._lock:
            self._results[key] = good
            if len(self._results) > MAX_CACHED:
                self._results.popitem(last=False)
        return good
