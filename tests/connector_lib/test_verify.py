"""Gold checked against the server's own summary (connector_lib.verify) with the real client over HTTP:
the simulator's summary of a tag-hour, as its truth computes it, matches; a wrong number does not; a
tag-hour the server cannot answer is a row with its error. No Spark."""

from __future__ import annotations

import datetime as dt

import pytest

from connector_lib.client import PIWebAPIClient
from connector_lib.config import PIConfig
from connector_lib.verify import VERIFY_COLUMNS, TagHour, verify
from pi_simulator import Archive, SimulatorServer, truth
from tests.conftest import hour_start

HOUR = dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def setup():
    archive = Archive(seed=21, n_points=45)
    with SimulatorServer(archive) as server:
        client = PIWebAPIClient(PIConfig.from_mapping({"pi.url": server.url}))
        yield archive, server, client
        client.session.close()


def truth_hour(archive, point, hour) -> tuple[float | None, float]:
    now = dt.datetime.now(dt.UTC)
    ((_, mean),) = truth.summary(archive, point.name, hour, hour + HOUR, "Average", as_of=now)
    ((_, good),) = truth.summary(archive, point.name, hour, hour + HOUR, "PercentGood", as_of=now)
    return mean, good / 100


def test_gold_numbers_equal_to_pis_match_and_others_do_not(setup):
    archive, server, client = setup
    hour = hour_start(4)
    continuous = next(p for p in archive.points if p.point_type == "Float64")
    counter = next(p for p in archive.points if p.point_type == "Int32")
    items = []
    for point in (continuous, counter):
        mean, share = truth_hour(archive, point, hour)
        items.append(TagHour(server.api.point_webid(point), point.name, hour, mean, share))
    digital = next(p for p in archive.points if p.point_type == "Digital")
    (_, good), *_ = truth.summary(
        archive, digital.name, hour, hour + HOUR, "PercentGood", as_of=dt.datetime.now(dt.UTC)
    )
    items.append(TagHour(server.api.point_webid(digital), digital.name, hour, None, good / 100, numeric=False))
    wrong = TagHour(items[0].web_id, continuous.name, hour, items[0].mean * 1.001, items[0].good_share)
    at = dt.datetime.now(dt.UTC)
    rows = [dict(zip([n for n, _ in VERIFY_COLUMNS], r)) for r in verify(client, [*items, wrong], at)]
    assert [r["matched"] for r in rows] == [True, True, True, False]
    assert rows[3]["pi_mean"] == pytest.approx(items[0].mean) and rows[3]["gold_mean"] != rows[3]["pi_mean"]
    assert rows[2]["pi_mean"] is None and rows[2]["pi_good_share"] == pytest.approx(items[2].good_share)
    assert all(r["verified_at"] == at and r["hour"] == hour and r["error"] is None for r in rows)


def test_a_tag_hour_the_server_cannot_answer_is_a_row_with_its_error(setup):
    _, server, client = setup
    missing = TagHour("F1DPbm90LWEtcG9pbnQ", "NO.SUCH.TAG", hour_start(4), 1.0, 1.0)
    (row,) = verify(client, [missing], dt.datetime.now(dt.UTC))
    row = dict(zip([n for n, _ in VERIFY_COLUMNS], row))
    assert row["matched"] is None and row["error"] and row["pi_mean"] is None
