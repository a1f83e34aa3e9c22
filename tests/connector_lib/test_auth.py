"""Authentication modes against the simulator over real HTTP(S): Basic, bearer with a static token and
with the OAuth 2.0 client-credentials flow (tokens renewed before expiry, one new token and one retry on a
401), the server's challenges, and a wrong credential giving one readable error that names the mode and
never the secret."""

import time

import pytest
import requests

from connector_lib.client import PIWebAPIClient
from connector_lib.config import PIConfig
from connector_lib.errors import PIWebAPIError
from pi_simulator import Archive, SimulatorServer
from pi_simulator.auth import TokenIssuer
from pi_simulator.tls import TestPKI
from tests.conftest import past_window, read_rows, truth_keys, value_keys

START, END = past_window(minutes=30)
SECRET = "canary-Client-Secret-5e1b"
ARCHIVE = Archive(seed=9, n_points=4)


def read_values(cfg: PIConfig) -> set:
    return value_keys(read_rows(cfg, START, END))


def expected() -> set:
    return truth_keys(ARCHIVE, START, END)


def settings(srv, **more):
    return PIConfig.from_mapping({"pi.url": srv.url, "pi.http.backoff": "0s", "pi.http.max_retries": "1", **more})


@pytest.fixture(scope="module")
def idp():
    issuer = TokenIssuer(client_id="osipi", client_secret=SECRET, static_tokens=frozenset({"static-token-1"}))
    with SimulatorServer(ARCHIVE, bearer=issuer) as srv:
        yield srv, issuer


def test_the_server_challenges_each_mode_it_allows(idp):
    srv, _ = idp
    resp = requests.get(f"{srv.url}/dataservers", timeout=10)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == 'Bearer realm="PI Web API"'
    resp = requests.get(f"{srv.url}/dataservers", headers={"Authorization": "Bearer stale"}, timeout=10)
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    with SimulatorServer(ARCHIVE, basic_auth=("u", "p"), bearer=TokenIssuer()) as both:
        resp = requests.get(f"{both.url}/dataservers", timeout=10)
        assert resp.status_code == 401 and resp.raw.headers.getlist("WWW-Authenticate") == [
            'Bearer realm="PI Web API"',
            'Basic realm="PI Web API"',
        ]


def test_client_credentials_read_the_truth_with_one_token(idp):
    srv, issuer = idp
    cfg = settings(
        srv,
        **{
            "pi.auth.type": "bearer",
            "pi.auth.token_url": srv.token_url,
            "pi.auth.client_id": "osipi",
            "pi.auth.client_secret": SECRET,
        },
    )
    before = issuer.requests
    assert read_values(cfg) == expected()
    assert issuer.requests - before == 1  # one token for every call of the read


def test_a_static_token_reads_the_truth(idp):
    srv, _ = idp
    assert read_values(settings(srv, **{"pi.auth.type": "bearer", "pi.auth.token": "static-token-1"})) == expected()


def test_a_revoked_token_gets_one_new_token_and_one_retry(idp):
    srv, issuer = idp
    client = PIWebAPIClient(
        settings(
            srv,
            **{
                "pi.auth.type": "bearer",
                "pi.auth.token_url": srv.token_url,
                "pi.auth.client_id": "osipi",
                "pi.auth.client_secret": SECRET,
            },
        )
    )
    client.get("dataservers")
    issuer.revoke_all()  # the identity provider rotated its keys: the cached token is refused
    refused = issuer.refused
    assert client.get("dataservers")["Items"]
    assert client.session.auth.fetched == 2 and issuer.refused == refused + 1


def test_a_token_is_renewed_before_it_expires():
    issuer = TokenIssuer(client_id="osipi", client_secret=SECRET, lifetime_s=2)
    with SimulatorServer(ARCHIVE, bearer=issuer) as srv:
        client = PIWebAPIClient(
            settings(
                srv,
                **{
                    "pi.auth.type": "bearer",
                    "pi.auth.token_url": srv.token_url,
                    "pi.auth.client_id": "osipi",
                    "pi.auth.client_secret": SECRET,
                },
            )
        )
        for _ in range(3):
            client.get("dataservers")
            time.sleep(1.0)  # renewal is due 0.2 s before the 2 s lifetime ends
        assert client.session.auth.fetched == 2 and issuer.refused == 0  # renewed before, not after a 401


@pytest.mark.parametrize(
    "mode_settings, says",
    [
        (
            {
                "pi.auth.type": "bearer",
                "pi.auth.token_url": "TOKEN_URL",
                "pi.auth.client_id": "osipi",
                "pi.auth.client_secret": "wrong-" + SECRET,
            },
            "bearer: token endpoint http://127.0.0.1:PORT/token answered HTTP 401 (invalid_client)",
        ),
        ({"pi.auth.type": "bearer", "pi.auth.token": "wrong-" + SECRET}, "HTTP 401"),
        ({"pi.auth.type": "anonymous"}, "HTTP 401"),
    ],
)
def test_a_wrong_credential_is_one_readable_error_naming_the_mode_never_the_secret(idp, mode_settings, says):
    srv, _ = idp
    port = srv.url.split(":")[2].split("/")[0]
    mode_settings = {k: v.replace("TOKEN_URL", srv.token_url) for k, v in mode_settings.items()}
    with pytest.raises(PIWebAPIError) as caught:
        PIWebAPIClient(settings(srv, **mode_settings)).get("dataservers")
    message = str(caught.value)
    assert says.replace("PORT", port) in message and SECRET not in message and "\n" not in message
    assert caught.value.status == 401 and not caught.value.transient
    if mode_settings["pi.auth.type"] != "bearer" or "pi.auth.token" in mode_settings:
        scheme = "bearer" if mode_settings["pi.auth.type"] == "bearer" else "no"
        assert f"the server refused the {scheme} credentials" in message


def test_basic_and_bearer_over_https_with_the_ca_bundle(tmp_path):
    pki = TestPKI.create(tmp_path)
    issuer = TokenIssuer(client_id="osipi", client_secret=SECRET)
    with SimulatorServer(ARCHIVE, tls=pki, bearer=issuer, basic_auth=("svc", SECRET)) as srv:
        tls = {"pi.tls.ca_bundle": str(pki.ca_cert)}
        assert srv.token_url.startswith("https://")
        assert (
            read_values(
                settings(srv, **tls, **{"pi.auth.type": "basic", "pi.auth.username": "svc", "pi.auth.password": SECRET})
            )
            == expected()
        )
        assert (
            read_values(
                settings(
                    srv,
                    **tls,
                    **{
                        "pi.auth.type": "bearer",
                        "pi.auth.token_url": srv.token_url,
                        "pi.auth.client_id": "osipi",
                        "pi.auth.client_secret": SECRET,
                    },
                )
            )
            == expected()
        )
