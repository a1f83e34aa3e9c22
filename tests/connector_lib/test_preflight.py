"""The preflight check against the simulator over real HTTP(S): every step passes on a healthy server, and
each way a first run goes wrong (nothing listening, a name that does not resolve, an untrusted certificate,
refused credentials by mode, point security, a wrong data server, a selection of no tags, a URL without
/piwebapi) stops it at its step with one line naming the host, the reason and the setting to change."""

import socket

import pytest

from connector_lib.config import PIConfig
from connector_lib.preflight import STEPS, PreflightFailed, preflight
from pi_simulator import Archive, SimulatorServer
from pi_simulator.auth import TokenIssuer
from pi_simulator.tls import TestPKI

PASSWORD = "canary-Pre-3c9d11"
TOKEN = "canary-Tok-a8e0f2"
ARCHIVE = Archive(seed=31, n_points=5)


@pytest.fixture(scope="module")
def server():
    with SimulatorServer(ARCHIVE, basic_auth=("svc_pi", PASSWORD)) as srv:
        yield srv


def basic(server, **settings) -> PIConfig:
    return PIConfig.from_mapping(
        {"pi.url": server.url, "pi.auth.type": "basic", "pi.auth.username": "svc_pi", "pi.auth.password": PASSWORD}
        | settings
    )


def failure(config: PIConfig) -> PreflightFailed:
    with pytest.raises(PreflightFailed) as caught:
        preflight(config)
    message = str(caught.value)
    assert "\n" not in message, message
    assert PASSWORD not in message and TOKEN not in message
    return caught.value


def test_every_step_passes_on_a_healthy_server_and_says_what_it_found(server):
    found = preflight(basic(server))
    assert [p.step for p in found] == list(STEPS)
    by_step = {p.step: p.found for p in found}
    assert "PI Web API" in by_step["server"]
    assert by_step["data server"] == "PISIM"
    assert by_step["tags"].startswith(f"{len(ARCHIVE.points)} tags selected")
    first = min(p.name for p in ARCHIVE.points)
    assert by_step["read"].startswith(f"{first}: latest value at ")


def test_nothing_listening_is_a_refused_connection_naming_the_host_and_pi_url():
    with socket.socket() as sock:  # a port just freed: nothing listens on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    failed = failure(PIConfig.from_mapping({"pi.url": f"http://127.0.0.1:{port}/piwebapi"}))
    assert failed.step == "server" and failed.host == f"127.0.0.1:{port}"
    assert "connection refused" in failed.reason and "pi.url" in failed.reason


def test_a_host_name_that_does_not_resolve_says_so():
    failed = failure(PIConfig.from_mapping({"pi.url": "https://pi-web-api.invalid/piwebapi"}))
    assert failed.step == "server" and failed.host == "pi-web-api.invalid"
    assert "does not resolve" in failed.reason and "pi.url" in failed.reason


def test_an_untrusted_certificate_names_the_ca_bundle_setting(tmp_path):
    pki = TestPKI.create(tmp_path)
    with SimulatorServer(ARCHIVE, tls=pki) as srv:
        failed = failure(PIConfig.from_mapping({"pi.url": srv.url}))
        assert failed.step == "server" and "TLS" in failed.reason and "pi.tls.ca_bundle" in failed.reason
        assert [
            p.step for p in preflight(PIConfig.from_mapping({"pi.url": srv.url, "pi.tls.ca_bundle": str(pki.ca_cert)}))
        ] == list(STEPS)


def test_a_wrong_password_is_refused_as_basic(server):
    failed = failure(basic(server, **{"pi.auth.password": PASSWORD + "-wrong"}))
    assert failed.step == "server" and "401" in failed.reason
    assert "basic" in failed.reason and "pi.auth" in failed.reason


def test_a_wrong_token_is_refused_as_bearer():
    issuer = TokenIssuer(static_tokens=frozenset({TOKEN}))
    with SimulatorServer(ARCHIVE, bearer=issuer) as srv:
        failed = failure(PIConfig.from_mapping({"pi.url": srv.url, "pi.auth.type": "bearer", "pi.auth.token": "stale"}))
        assert failed.step == "server" and "401" in failed.reason and "bearer" in failed.reason
        ok = preflight(PIConfig.from_mapping({"pi.url": srv.url, "pi.auth.type": "bearer", "pi.auth.token": TOKEN}))
        assert [p.step for p in ok] == list(STEPS)


def test_point_security_that_denies_the_first_tag_fails_the_read_naming_the_point():
    first = min(p.name for p in ARCHIVE.points)
    with SimulatorServer(ARCHIVE, basic_auth=("svc_pi", PASSWORD), point_denials={"svc_pi": [first]}) as srv:
        failed = failure(basic(srv))
    assert failed.step == "read" and "403" in failed.reason
    assert first in failed.reason and "pi.auth.username" in failed.reason


def test_a_data_server_that_does_not_exist_names_the_setting_and_the_servers_there(server):
    failed = failure(basic(server, **{"pi.data_server": "PIPROD"}))
    assert failed.step == "data server"
    assert "pi.data_server" in failed.reason and "PISIM" in failed.reason


def test_a_selection_of_no_tags_fails_at_tags(server):
    failed = failure(basic(server, **{"pi.tag_filter": "NOSUCH*"}))
    assert failed.step == "tags" and "'NOSUCH*' matches nothing on PISIM" in failed.reason
    failed = failure(basic(server, **{"pi.tags": "NOT.A.TAG"}))
    assert failed.step == "tags" and "pi.tags: not found on PISIM: NOT.A.TAG" in failed.reason


def test_a_url_without_piwebapi_names_the_expected_path(server):
    failed = failure(basic(server, **{"pi.url": server.url.rsplit("/piwebapi", 1)[0]}))
    assert failed.step == "server" and "404" in failed.reason and "/piwebapi" in failed.reason


def test_no_step_is_retried():
    """A preflight reports at once: a server failing every request gets one request per step run."""
    from pi_simulator.faults import FaultPlan

    with SimulatorServer(ARCHIVE, faults=FaultPlan(http_rate=1.0, http_kinds=("503",))) as srv:
        failed = failure(PIConfig.from_mapping({"pi.url": srv.url, "pi.http.max_retries": "5"}))
        assert failed.step == "server" and "503" in failed.reason
        assert srv.api.requests == 1


def run_with_config(tmp_path, text: str, env: dict | None = None):
    """``make run CONFIG=...`` as a user runs it: its whole output and exit code."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    path = tmp_path / "my-pi.yml"
    path.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "devtools.run", "--config", str(path), "--work-dir", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )
    return done.returncode, (done.stdout + done.stderr).strip()


def test_make_run_against_an_unreachable_server_prints_one_line_and_starts_no_spark(tmp_path):
    code, out = run_with_config(tmp_path, "pi.url: https://pi-web-api.invalid/piwebapi\n")
    assert code == 2 and out.count("\n") == 0 and "Traceback" not in out, out
    assert out.startswith("preflight failed at 'server' (pi-web-api.invalid): ") and "does not resolve" in out, out
    assert not (tmp_path / "run").exists()  # stopped before the pipeline's work directory was made


def test_make_run_with_refused_credentials_prints_one_line_without_the_secret(server, tmp_path):
    settings = f"pi.url: {server.url}\npi.auth.type: basic\npi.auth.username: svc_pi\npi.auth.password: env:PRE_PW\n"
    code, out = run_with_config(tmp_path, settings, {"PRE_PW": PASSWORD + "-wrong"})
    assert code == 2 and out.count("\n") == 0 and "Traceback" not in out, out
    assert "preflight failed at 'server'" in out and "401" in out and PASSWORD not in out, out


def test_the_cli_check_prints_every_step_and_exits_0(server, tmp_path, capsys):
    from connector_lib.cli import main

    path = tmp_path / "my-pi.yml"
    path.write_text(
        f"pi.url: {server.url}\npi.auth.type: basic\npi.auth.username: svc_pi\npi.auth.password: {PASSWORD}\n"
    )
    assert main(["check", "--config", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"ok   {step}" for step in STEPS]
    assert PASSWORD not in "\n".join(lines)


def test_the_cli_check_fails_in_one_line_with_status_2(server, tmp_path, capsys):
    from connector_lib.cli import main

    path = tmp_path / "my-pi.yml"
    path.write_text(f"pi.url: {server.url}\npi.auth.type: basic\npi.auth.username: svc_pi\npi.auth.password: wrong\n")
    assert main(["check", "--config", str(path)]) == 2
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0 and out.startswith("preflight failed at 'server'") and "401" in out, out
    path.write_text("pi.url: http://h/piwebapi\npi.page_size: -5\n")
    assert main(["check", "--config", str(path)]) == 2
    assert capsys.readouterr().out.startswith("configuration error: pi.page_size")
