"""Kerberos against a real KDC: a throwaway MIT realm (pi_simulator.kerberos), the simulator accepting
Negotiate tickets with its service keytab, and the connector logging in with a password, a keytab or a
ticket cache, reading the simulator's ground truth through requests-kerberos. Failures are one line that
names the mode and the setting to check, never the password."""

import os
import re
import time

import gssapi
import pytest
import requests

from connector_lib import kerberos
from connector_lib.client import PIWebAPIClient
from connector_lib.config import ConfigError, PIConfig
from connector_lib.errors import PIWebAPIError
from pi_simulator import Archive, SimulatorServer
from pi_simulator.auth import KerberosAcceptor
from pi_simulator.kerberos import TestRealm, missing_programs
from tests.conftest import past_window, read_rows, truth_keys, value_keys

START, END = past_window(minutes=30)
PASSWORD = "canary-Kerberos-Pass-91c4"
ARCHIVE = Archive(seed=11, n_points=6)

if missing_programs():
    pytest.skip(
        f"the MIT Kerberos KDC is not installed ({', '.join(missing_programs())} missing): "
        f"scripts/bootstrap.sh installs krb5-kdc, krb5-admin-server and krb5-user with apt",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def realm():
    saved = {name: os.environ.get(name) for name in ("KRB5_CONFIG", "PATH")}  # the connector and k5test set them
    with TestRealm.create(client_password=PASSWORD) as made:
        yield made
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def server(realm):
    with SimulatorServer(ARCHIVE, kerberos=KerberosAcceptor(realm.service_keytab)) as srv:
        yield srv


def settings(srv, realm, **more):
    return PIConfig.from_mapping(
        {
            "pi.url": srv.url,
            "pi.http.backoff": "0s",
            "pi.http.max_retries": "1",
            "pi.auth.type": "kerberos",
            "pi.auth.kerberos_config": realm.krb5_conf,
            **more,
        }
    )


def read(cfg: PIConfig) -> list[dict]:
    return read_rows(cfg, START, END)


def expected(names=None) -> set:
    return truth_keys(ARCHIVE, START, END, names)


def failure(cfg: PIConfig) -> str:
    with pytest.raises(PIWebAPIError) as caught:
        PIWebAPIClient(cfg).get("dataservers")
    message = str(caught.value)
    assert "\n" not in message and PASSWORD not in message and "Traceback" not in message
    assert caught.value.status == 401 and not caught.value.transient
    return message


def test_the_server_challenges_with_negotiate(server):
    srv = server
    resp = requests.get(f"{srv.url}/dataservers", timeout=10)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == "Negotiate"
    resp = requests.get(f"{srv.url}/dataservers", headers={"Authorization": "Negotiate bm90IGEgdGlja2V0"}, timeout=10)
    assert resp.status_code == 401  # a token that is not a ticket


def test_a_password_logs_in_once_per_process_and_reads_the_truth(server, realm):
    srv = server
    principal = realm.add_user("concurrent", PASSWORD)  # a principal no other test logs in as
    cfg = settings(
        srv,
        realm,
        **{
            "pi.auth.username": principal,
            "pi.auth.password": PASSWORD,
            "pi.tags_per_request": "1",
            "pi.max_concurrent_requests": "4",
        },
    )
    accepted = srv.auth.accepted["negotiate"]
    assert value_keys(read(cfg)) == expected()
    assert srv.auth.accepted["negotiate"] - accepted >= len(ARCHIVE.points) + 1  # every request had a ticket
    login = kerberos.login_for(cfg)
    assert login.logins == 1  # one ticket-granting ticket for six concurrent batch calls and discovery
    assert value_keys(read(cfg)) == expected() and login.logins == 1  # and for the next client of the process


def test_each_request_carries_its_ticket_and_each_answer_must_prove_the_server(realm):
    acceptor = KerberosAcceptor(realm.service_keytab)
    with SimulatorServer(ARCHIVE, kerberos=acceptor) as srv:
        client = PIWebAPIClient(
            settings(srv, realm, **{"pi.auth.username": realm.client_principal, "pi.auth.password": PASSWORD})
        )
        first = client.session.get(f"{srv.url}/dataservers", timeout=10)
        assert first.status_code == 200 and first.history == []  # no 401 round trip: the ticket came first
        assert client.get("dataservers")["Items"]
        acceptor.mutual = False  # from now on the answers do not prove the server (a spoofed server would not)
        with pytest.raises(PIWebAPIError, match="kerberos: the server did not prove its identity"):
            client.get("dataservers")


def test_a_kdc_that_cannot_be_reached_is_transient_and_names_the_kdcs(server, realm, tmp_path):
    srv = server
    text = open(realm.krb5_conf).read()
    unreachable = tmp_path / "krb5.conf"
    unreachable.write_text(re.sub(r"(?m)^(\s*)kdc = \S+$", r"\1kdc = 127.0.0.1:9", text))  # nothing listens on 9
    assert "127.0.0.1:9" in unreachable.read_text()
    cfg = PIConfig.from_mapping(
        {
            "pi.url": srv.url,
            "pi.http.backoff": "0s",
            "pi.http.max_retries": "1",
            "pi.auth.type": "kerberos",
            "pi.auth.kerberos_config": str(unreachable),
            "pi.auth.username": realm.client_principal,
            "pi.auth.password": PASSWORD,
        }
    )
    with pytest.raises(PIWebAPIError) as caught:
        PIWebAPIClient(cfg).get("dataservers")
    assert caught.value.transient and "Cannot contact any KDC" in str(caught.value)
    assert "check the KDCs in pi.auth.kerberos_config and the network" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_a_keytab_reads_the_truth(server, realm):
    srv = server
    cfg = settings(
        srv, realm, **{"pi.auth.username": realm.client_principal, "pi.auth.kerberos_keytab": realm.client_keytab}
    )
    assert value_keys(read(cfg)) == expected()


def test_the_ticket_cache_of_a_kinit_reads_the_truth(server, realm, tmp_path, monkeypatch):
    srv = server
    ccache = f"FILE:{tmp_path / 'ccache'}"
    realm.kinit(ccache, realm.client_principal, PASSWORD)
    monkeypatch.setenv("KRB5CCNAME", ccache)
    assert value_keys(read(settings(srv, realm))) == expected()


def test_a_wrong_password_is_one_line_naming_the_mode_and_settings(server, realm):
    srv = server
    message = failure(
        settings(srv, realm, **{"pi.auth.username": realm.client_principal, "pi.auth.password": "wrong-" + PASSWORD})
    )
    assert message == (
        f"GET /piwebapi/dataservers: kerberos: cannot log in as {realm.client_principal}: Decrypt "
        f"integrity check failed; check pi.auth.username, pi.auth.password and pi.auth.kerberos_config"
    )


def test_an_unknown_principal_is_one_line(server, realm):
    srv = server
    message = failure(settings(srv, realm, **{"pi.auth.username": "nobody@OSIPI.TEST", "pi.auth.password": PASSWORD}))
    assert "kerberos: cannot log in as nobody@OSIPI.TEST:" in message and "not found" in message


def test_a_server_whose_name_is_not_its_service_principal_needs_its_service_host(realm):
    """The URL names the server by an address or alias with no HTTP/ principal of its own (here 127.0.0.2,
    a second loopback address); the server's principal is HTTP/localhost."""
    with SimulatorServer(ARCHIVE, host="127.0.0.2", kerberos=KerberosAcceptor(realm.service_keytab)) as srv:
        login = {"pi.auth.username": realm.client_principal, "pi.auth.password": PASSWORD}
        message = failure(settings(srv, realm, **login))
        assert (
            "kerberos: no service ticket for HTTP/127.0.0.2: Server HTTP/127.0.0.2@OSIPI.TEST not found in "
            "Kerberos database"
            in message
            and "pi.auth.kerberos_hostname" in message
        )
        cfg = settings(srv, realm, **login, **{"pi.auth.kerberos_hostname": "localhost"})
        assert value_keys(read(cfg)) == expected()


def test_mutual_authentication_required_refuses_a_server_that_does_not_prove_itself(realm):
    acceptor = KerberosAcceptor(realm.service_keytab, mutual=False)  # e.g. a proxy dropping the server's token
    with SimulatorServer(ARCHIVE, kerberos=acceptor) as srv:
        login = {"pi.auth.username": realm.client_principal, "pi.auth.password": PASSWORD}
        message = failure(settings(srv, realm, **login))
        assert "did not prove its identity" in message and "pi.auth.kerberos_mutual" in message
        assert value_keys(read(settings(srv, realm, **login, **{"pi.auth.kerberos_mutual": "optional"}))) == expected()


def test_a_ticket_is_taken_again_before_it_ends(server, realm):
    srv = server
    principal = realm.add_user("short-lived", PASSWORD, max_life="2 minutes")
    cfg = settings(srv, realm, **{"pi.auth.username": principal, "pi.auth.password": PASSWORD})
    client = PIWebAPIClient(cfg)
    client.get("dataservers")
    login = kerberos.login_for(cfg)
    renew_in = login._renew_at - time.time()
    assert login.logins == 1 and 90 < renew_in < 120  # a tenth of the 2 minutes before the ticket ends
    first = login.ccache
    login._renew_at = time.time()  # the ticket's end is near
    assert client.get("dataservers")["Items"]
    assert login.logins == 2 and login.ccache != first
    login._renew_at = time.time()
    assert client.get("dataservers")["Items"]
    assert login.logins == 3 and len({first, login.ccache, login._retired}) == 3
    with pytest.raises(gssapi.exceptions.GSSError):  # the first cache is gone: tickets do not pile up in memory
        _ = gssapi.Credentials(usage="initiate", store={b"ccache": first.encode()}).lifetime


def test_point_security_denies_one_user_a_point_with_403(realm):
    denied = ARCHIVE.points[1].name
    with SimulatorServer(
        ARCHIVE, kerberos=KerberosAcceptor(realm.service_keytab), point_denials={realm.client_principal: [denied]}
    ) as srv:
        rows = read(settings(srv, realm, **{"pi.auth.username": realm.client_principal, "pi.auth.password": PASSWORD}))
        status = {r["tag"]: (r["status"], r["error"]) for r in rows if r["record_kind"] == "window"}
        assert status[denied][0] == "failed" and "HTTP 403" in status[denied][1]
        assert realm.client_principal in status[denied][1]
        assert value_keys(rows) == expected({p.name for p in ARCHIVE.points} - {denied})
        other = realm.add_user("operator", PASSWORD)  # another identity reads the point
        assert (
            value_keys(read(settings(srv, realm, **{"pi.auth.username": other, "pi.auth.password": PASSWORD})))
            == expected()
        )


def test_kerberos_settings_are_checked(realm, tmp_path):
    base = {"pi.url": "https://pi.example.com/piwebapi", "pi.auth.type": "kerberos"}
    with pytest.raises(ConfigError, match="^pi.auth.kerberos_keytab: give either a keytab or pi.auth.password"):
        PIConfig.from_mapping(
            {
                **base,
                "pi.auth.username": "u@R",
                "pi.auth.password": PASSWORD,
                "pi.auth.kerberos_keytab": realm.client_keytab,
            }
        )
    with pytest.raises(ConfigError, match="^pi.auth.username: required with a kerberos password"):
        PIConfig.from_mapping({**base, "pi.auth.password": PASSWORD})
    with pytest.raises(ConfigError, match="^pi.auth.kerberos_config: file not found"):
        PIConfig.from_mapping({**base, "pi.auth.kerberos_config": str(tmp_path / "krb5.conf")})
    with pytest.raises(ConfigError, match="^pi.auth.kerberos_mutual: must be one of required, optional, disabled"):
        PIConfig.from_mapping({**base, "pi.auth.kerberos_mutual": "sometimes"})
    assert PIConfig.from_mapping(base).kerberos_mutual == "required"  # the default: the server must prove itself
    with pytest.raises(ConfigError, match="^pi.auth.kerberos_hostname: a host name only"):
        PIConfig.from_mapping({**base, "pi.auth.kerberos_hostname": "https://pi.example.com:443"})
    with pytest.raises(
        ConfigError,
        match=r"^pi.auth.kerberos_config: used only when pi.auth.type is kerberos \(it is "
        r"anonymous\)",
    ):
        PIConfig.from_mapping({"pi.url": base["pi.url"], "pi.auth.kerberos_config": realm.krb5_conf})


def test_the_simulator_command_line_accepts_kerberos(realm):
    """``python -m pi_simulator serve --kerberos-keytab FILE``: the simulator alone, for trying a client."""
    import socket
    import subprocess
    import sys

    from tests.conftest import REPO

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pi_simulator",
            "serve",
            "--port",
            str(port),
            "--tags",
            "6",
            "--seed",
            "11",
            "--kerberos-keytab",
            realm.service_keytab,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/piwebapi"
        deadline = time.monotonic() + 20
        while True:
            try:
                challenge = requests.get(f"{url}/dataservers", timeout=2)
                break
            except requests.ConnectionError:
                if proc.poll() is not None:
                    pytest.fail(f"the simulator exited: {proc.stderr.read()}")
                assert time.monotonic() < deadline, "the simulator did not start in 20 s"
                time.sleep(0.1)
        assert challenge.status_code == 401 and challenge.headers["WWW-Authenticate"] == "Negotiate"
        cfg = PIConfig.from_mapping(
            {
                "pi.url": url,
                "pi.auth.type": "kerberos",
                "pi.auth.kerberos_config": realm.krb5_conf,
                "pi.auth.username": realm.client_principal,
                "pi.auth.password": PASSWORD,
            }
        )
        assert value_keys(read(cfg)) == expected()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    with pytest.raises(subprocess.CalledProcessError) as refused:
        subprocess.run(
            [sys.executable, "-m", "pi_simulator", "serve", "--kerberos-keytab", "/nonexistent.keytab"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
    assert "--kerberos-keytab: file not found: /nonexistent.keytab" in refused.value.stderr
