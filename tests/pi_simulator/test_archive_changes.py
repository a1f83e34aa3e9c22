"""Late arrivals, edits, points created and deleted in the simulator, and a ground truth that knows what
was visible when (the basis of the fault campaign's reconciliation)."""

import datetime as dt

import pytest
import requests

from pi_simulator import Archive, ArchiveChanges, SimulatorServer, truth
from pi_simulator.truth import to_ticks

UTC = dt.UTC
T = dt.datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
CHANGES = ArchiveChanges(seed=3, buffered_share=0.5, max_delay_s=600, edit_share=0.2, max_edit_delay_s=900)


def at(minutes):
    return T + dt.timedelta(minutes=minutes)


@pytest.fixture(scope="module")
def archive():
    return Archive(seed=8, n_points=12, changes=CHANGES)


def keys(rows):
    return {(r["timestamp"], r["sequence"]) for r in rows}


def test_without_changes_the_events_are_those_of_the_plain_archive(archive):
    plain = Archive(seed=8, n_points=12)
    for point in archive.points:
        assert truth.recorded(plain, point.name, at(-120), at(0)) == truth.recorded(
            archive, point.name, at(-120), at(0)
        )
        # long after everything arrived, only the edits differ
        late = truth.recorded(archive, point.name, at(-120), at(0), as_of=at(60))
        assert keys(late) == keys(truth.recorded(plain, point.name, at(-120), at(0)))


def test_buffered_points_deliver_late_and_out_of_order(archive):
    hidden, out_of_order = 0, 0
    for point in archive.points:
        seen_now = truth.recorded(archive, point.name, at(-60), at(0), as_of=at(0))
        seen_later = truth.recorded(archive, point.name, at(-60), at(0), as_of=at(15))
        assert {(r["timestamp"]) for r in seen_now} <= {r["timestamp"] for r in seen_later}
        hidden += len(seen_later) - len(seen_now)
        # a value visible now although an older one of the same tag is not yet: arrivals out of time order
        missing = sorted({r["timestamp"] for r in seen_later} - {r["timestamp"] for r in seen_now})
        if missing and any(r["timestamp"] > missing[0] for r in seen_now):
            out_of_order += 1
    assert hidden > 5 and out_of_order >= 1


def test_edits_change_values_not_keys(archive):
    changed = 0
    for point in archive.points:
        # every event of the window arrived by -35 (delays up to 10 min); edits land up to 15 min after arrival
        before = truth.recorded(archive, point.name, at(-60), at(-45), as_of=at(-35))
        after = truth.recorded(archive, point.name, at(-60), at(-45), as_of=at(60))
        assert [(r["timestamp"], r["sequence"]) for r in before] == [(r["timestamp"], r["sequence"]) for r in after]
        changed += sum(a != b for a, b in zip(before, after))
    assert changed >= 3


def test_server_answers_as_of_its_clock(archive):
    with SimulatorServer(archive) as srv:
        point = archive.points[1]
        web_id = srv.api.point_webid(point)
        for now in (at(0), at(10), at(40)):
            srv.api.clock = lambda now=now: now
            items = requests.get(
                f"{srv.url}/streams/{web_id}/recorded",
                timeout=10,
                params={"startTime": "2026-11-02T11:00:00Z", "endTime": "*", "maxCount": "100000"},
            ).json()["Items"]
            expected = truth.recorded(archive, point.name, at(-60), now, as_of=now)
            assert len(items) == len(expected)
            assert [i["Timestamp"][:19] for i in items] == [
                r["timestamp"].strftime("%Y-%m-%dT%H:%M:%S") for r in expected
            ]


def test_points_created_and_deleted():
    base = Archive(seed=8, n_points=6)
    new, gone = base.points[4].name, base.points[5].name
    archive = Archive(
        seed=8,
        n_points=6,
        changes=ArchiveChanges(created=((new, to_ticks(at(0))),), deleted=((gone, to_ticks(at(30))),)),
    )
    with SimulatorServer(archive) as srv:

        def names(now):
            srv.api.clock = lambda: now
            return {
                p["Name"]
                for p in requests.get(f"{srv.url}/dataservers/{srv.api.server_webid}/points", timeout=10).json()[
                    "Items"
                ]
            }

        assert new not in names(at(-1)) and gone in names(at(-1))
        assert new in names(at(1)) and gone in names(at(29))
        assert gone not in names(at(31))
        web_id = srv.api.point_webid(archive.by_name[gone.upper()])
        assert requests.get(f"{srv.url}/streams/{web_id}/recorded", timeout=10).status_code == 404
    rows = truth.recorded(archive, new, at(-120), at(60))
    assert rows[0]["timestamp"] == at(0) and rows[0]["state_name"] == "Pt Created"
    assert all(r["timestamp"] >= at(0) for r in rows)
    with pytest.raises(ValueError, match="unknown points"):
        Archive(seed=8, n_points=6, changes=ArchiveChanges(deleted=(("NOPE", 0),)))
