"""TLS and basic auth from an exporter-toolkit web config: the file's validation, the auth
wrapper, and a real gunicorn server checked with real TLS clients (requests, curl, ssl)."""

from __future__ import annotations

import base64
import shutil
import socket
import ssl
import subprocess
import textwrap
import time
from pathlib import Path

import bcrypt
import pytest
import requests

from budget_exporter.cli.commands import EXIT_BAD_CONFIG, main
from budget_exporter.model.errors import ConfigError
from budget_exporter.service.webconfig import BasicAuth, load_web_config
from exporterproc import exporter
from tlscerts import Authority

PASSWORD = "correct horse battery staple"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()


def web_config(folder: Path, text: str) -> Path:
    """Write a web config file into ``folder``."""
    path = folder / "web.yml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def problems(path: Path) -> list[str]:
    """The problems loading ``path`` reports, as text."""
    with pytest.raises(ConfigError) as caught:
        load_web_config(path)
    return [str(problem) for problem in caught.value.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("basic_auth_users:\n  alice: hunter2\n", ":2: basic_auth_users.alice: not a bcrypt hash"),
        ("tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  cert: x\n", ":4:"),
        (
            "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n",
            ":2: tls_server_config.cert_file: no such file:",
        ),
        (
            "tls_server_config: {cert_file: a, key_file: b, "
            "client_auth_type: RequireAndVerifyClientCert}\n",
            "needs client_ca_file",
        ),
        (
            "tls_server_config: {cert_file: a, key_file: b, min_version: TLS9}\n",
            "tls_server_config.min_version:",
        ),
        ("- just a list\n", "the web config must be a mapping"),
    ],
    ids=[
        "a plain password instead of a bcrypt hash is refused",
        "an unknown key is named with its line",
        "a missing certificate file is named",
        "verifying clients needs a CA file",
        "an unknown TLS version is refused",
        "a list is not a web config",
    ],
)
def test_a_bad_web_config_names_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = web_config(tmp_path, text)
    found = problems(path)
    assert found and all(line.startswith(str(path)) for line in found)
    assert any(expected in line for line in found), found
    # The value typed in place of a hash may be a real password: it is never echoed.
    assert not any("hunter2" in line for line in found)


def test_a_key_that_does_not_match_the_certificate_is_refused(tmp_path: Path) -> None:
    ca = Authority(tmp_path)
    one, other = ca.issue("one"), ca.issue("other")
    path = web_config(
        tmp_path, f"tls_server_config:\n  cert_file: {one.cert.name}\n  key_file: {other.key}\n"
    )
    assert any("tls_server_config.cert_file: cannot use" in line for line in problems(path))


def _call(app: BasicAuth, header: str | None) -> tuple[str, dict[str, str]]:
    seen: dict[str, object] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics"}
    if header is not None:
        environ["HTTP_AUTHORIZATION"] = header
    list(app(environ, start_response))
    return str(seen["status"]), dict(seen["headers"])  # type: ignore[call-overload]


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _inner(environ: dict, start_response) -> list[bytes]:  # type: ignore[no-untyped-def]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (_basic("prometheus", PASSWORD), "200 OK"),
        (_basic("prometheus", PASSWORD + "x"), "401 Unauthorized"),
        (_basic("nobody", PASSWORD), "401 Unauthorized"),
        (_basic("prometheus", "x" * 100), "401 Unauthorized"),
        (None, "401 Unauthorized"),
        ("Basic not-base64!", "401 Unauthorized"),
        ("Bearer " + PASSWORD, "401 Unauthorized"),
        ("Basic " + base64.b64encode(PASSWORD.encode()).decode(), "401 Unauthorized"),
    ],
    ids=[
        "the right password passes",
        "a wrong password is refused",
        "an unknown user is refused",
        "a password longer than bcrypt reads is refused",
        "no credentials are refused",
        "a garbled header is refused",
        "another scheme is refused",
        "credentials without a colon are refused",
    ],
)
def test_basic_auth_lets_only_the_right_password_through(header: str | None, status: str) -> None:
    app = BasicAuth(_inner, {"prometheus": HASH})
    got, headers = _call(app, header)
    assert got == status
    if status.startswith("401"):
        assert headers["WWW-Authenticate"].startswith('Basic realm="budget-exporter"')


def test_a_remembered_good_password_does_not_let_a_wrong_one_in() -> None:
    app = BasicAuth(_inner, {"prometheus": HASH})
    assert _call(app, _basic("prometheus", PASSWORD))[0] == "200 OK"
    assert _call(app, _basic("prometheus", "wrong"))[0] == "401 Unauthorized"
    assert _call(app, _basic("prometheus", PASSWORD))[0] == "200 OK"


def _wait_https(url: str, **kwargs: object) -> requests.Response:
    deadline = time.monotonic() + 60
    while True:
        try:
            return requests.get(url, timeout=5, **kwargs)  # type: ignore[arg-type]
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.mark.integration
def test_metrics_over_tls_with_basic_auth_for_real_clients(tmp_path: Path) -> None:
    ca = Authority(tmp_path / "pki")
    server = ca.issue("server")
    web = web_config(
        tmp_path,
        f"""
        tls_server_config:
          cert_file: {server.cert}
          key_file: {server.key}
          min_version: TLS13
        basic_auth_users:
          prometheus: {HASH}
        """,
    )
    with exporter(None, tmp_path / "state", ["--web.config.file", str(web)]) as running:
        url = running.url("https")
        good = (("prometheus", PASSWORD),)[0]
        answer = _wait_https(f"{url}/-/ready", verify=str(ca.pair.cert), auth=good)
        for _ in range(100):
            if answer.status_code == 200:
                break
            time.sleep(0.3)
            answer = _wait_https(f"{url}/-/ready", verify=str(ca.pair.cert), auth=good)
        assert answer.status_code == 200

        metrics = requests.get(f"{url}/metrics", verify=str(ca.pair.cert), auth=good, timeout=5)
        assert metrics.status_code == 200
        assert b"budget_utilization_ratio{" in metrics.content

        wrong = requests.get(
            f"{url}/metrics", verify=str(ca.pair.cert), auth=("prometheus", "nope"), timeout=5
        )
        assert wrong.status_code == 401
        assert wrong.headers["WWW-Authenticate"].startswith("Basic")
        assert b"budget_" not in wrong.content
        anonymous = requests.get(f"{url}/metrics", verify=str(ca.pair.cert), timeout=5)
        assert anonymous.status_code == 401
        # Without --web.enable-lifecycle there is no reload over HTTP.
        reload = requests.post(f"{url}/-/reload", verify=str(ca.pair.cert), auth=good, timeout=5)
        assert reload.status_code == 405

        # A client that does not trust the certificate refuses the server.
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{url}/metrics", timeout=5)
        # Plain HTTP on the TLS port gets no metrics.
        with pytest.raises(requests.RequestException):
            plain = requests.get(running.url("http") + "/metrics", auth=good, timeout=5)
            assert b"budget_" not in plain.content
            raise requests.RequestException(f"plain HTTP answered {plain.status_code}")

        # TLS 1.2 is below min_version: the handshake fails.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(ca.pair.cert)
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        with (
            pytest.raises((ssl.SSLError, ConnectionError)),
            socket.create_connection(("127.0.0.1", running.port), timeout=5) as sock,
            context.wrap_socket(sock, server_hostname="127.0.0.1"),
        ):
            pass

        curl = shutil.which("curl")
        if curl:
            result = subprocess.run(
                [curl, "-sS", "--cacert", str(ca.pair.cert), "-u", f"prometheus:{PASSWORD}",
                 "-o", "/dev/null", "-w", "%{http_code}", f"{url}/metrics"],
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            assert result.stdout == "200", result.stderr
    assert PASSWORD not in running.log_text()


@pytest.mark.integration
def test_client_certificates_are_required_when_configured(tmp_path: Path) -> None:
    ca = Authority(tmp_path / "pki")
    server, client = ca.issue("server"), ca.issue("scraper", client=True)
    stranger = Authority(tmp_path / "other", "other CA").issue("intruder", client=True)
    web = web_config(
        tmp_path,
        f"""
        tls_server_config:
          cert_file: {server.cert}
          key_file: {server.key}
          client_auth_type: RequireAndVerifyClientCert
          client_ca_file: {ca.pair.cert}
        """,
    )
    with exporter(None, tmp_path / "state", ["--web.config.file", str(web)]) as running:
        url = f"{running.url('https')}/-/healthy"
        cert = (str(client.cert), str(client.key))
        answer = _wait_https(url, verify=str(ca.pair.cert), cert=cert)
        assert answer.status_code == 200
        for other in (None, (str(stranger.cert), str(stranger.key))):
            with pytest.raises(requests.RequestException):
                requests.get(url, verify=str(ca.pair.cert), cert=other, timeout=5)


def test_serve_refuses_to_start_with_a_bad_web_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    web = web_config(tmp_path, "basic_auth_users:\n  alice: plain-password\n")
    assert main(["serve", "--web.config.file", str(web)]) == EXIT_BAD_CONFIG
    errors = capsys.readouterr().err
    assert f"{web}:2: basic_auth_users.alice" in errors
    assert "plain-password" not in errors
