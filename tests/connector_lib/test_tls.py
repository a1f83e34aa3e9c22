"""TLS as real PI Web API servers use it (a certificate from the site's private PKI), against the
simulator serving HTTPS with a throwaway CA: verification is on by default and fails closed, with one
readable error and no retry; the CA bundle makes the same reads succeed with the ground truth's values;
the opt-out works only when asked for, and says so loudly."""

import logging

import pytest

from connector_lib.client import PIWebAPIClient
from connector_lib.config import PIConfig
from connector_lib.errors import PIWebAPIError
from pi_simulator import Archive, SimulatorServer
from pi_simulator.tls import TestPKI
from tests.conftest import past_window, read_rows, truth_keys, value_keys

START, END = past_window(minutes=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return TestPKI.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def server(pki):
    with SimulatorServer(Archive(seed=5, n_points=6), tls=pki) as srv:
        yield srv


def config(server, **settings):
    return PIConfig.from_mapping({"pi.url": server.url, "pi.http.backoff": "0s", **settings})


def values(server, cfg):
    return value_keys(read_rows(cfg, START, END))


def expected(server):
    return truth_keys(server.api.archive, START, END)


def test_an_untrusted_certificate_fails_closed_with_one_readable_error_and_no_retry(server):
    assert server.url.startswith("https://")
    cfg = config(server, **{"pi.http.max_retries": "3"})
    client = PIWebAPIClient(cfg)
    calls = []
    client.session.hooks["response"].append(lambda r, *a, **k: calls.append(r))
    with pytest.raises(PIWebAPIError) as caught:
        client.get("dataservers")
    message = str(caught.value)
    assert message.startswith("GET /piwebapi/dataservers: TLS: certificate verify failed")
    assert "pi.tls.ca_bundle" in message and "\n" not in message and not caught.value.transient
    assert not calls  # no answer was ever accepted from the server


def test_the_ca_bundle_makes_the_reads_succeed_with_the_truth(server, pki):
    got = values(server, config(server, **{"pi.tls.ca_bundle": str(pki.ca_cert)}))
    assert got == expected(server) and len(got) > 50


def test_a_certificate_for_another_host_fails_even_with_the_ca(pki, tmp_path):
    other = TestPKI.create(tmp_path / "other", hosts=("pi.example.com",))
    with SimulatorServer(Archive(seed=5, n_points=2), tls=other) as srv:
        with pytest.raises(PIWebAPIError, match="TLS: "):
            PIWebAPIClient(config(srv, **{"pi.tls.ca_bundle": str(other.ca_cert)})).get("dataservers")


def test_the_opt_out_reads_but_warns_loudly(server, caplog):
    with caplog.at_level(logging.WARNING, logger="connector_lib.client"):
        got = values(server, config(server, **{"pi.tls.verify": "false"}))
    assert got == expected(server)
    assert any("TLS certificate verification is DISABLED" in r.getMessage() for r in caplog.records)
