"""The AF hierarchy and event frames through the real local pipeline: snapshots into pi_af_bronze, history
in pi_af_elements / pi_af_attributes and the tag-to-asset mapping, reconciled with the simulator's AF model;
an element renamed and an attribute re-pointed between two updates close the old versions and open new
ones; an update before pi.af.refresh has passed takes no new snapshot. Event frames read at every update
into pi_event_frames_bronze, one current row each in pi_event_frames equal to the simulator's frames as
of each update (an alarm open at the first update is closed and acknowledged at the second), attribute
values, alarms, and the downtime and batch KPIs equal to the ones computed from the simulator's frames."""

import collections
import datetime as dt
import json

import pytest

from devtools import reconcile_af
from devtools.local_pipeline import REPO
from pi_simulator import Archive, SimulatorServer
from pi_simulator.af import AFChanges, AssetModel
from pi_simulator.eventframes import EF_TEMPLATES, EventFrames
from pi_simulator.model import NEVER
from pi_simulator.truth import ticks_to_datetime, to_ticks

UTC = dt.UTC
RENAMED = "Sydney\\Unit 001\\P-001"
REPOINTED = "Sydney\\Unit 001\\P-001|Discharge Flow"


def naive(when: dt.datetime) -> dt.datetime:
    return when.astimezone(UTC).replace(tzinfo=None)  # Spark Connect returns UTC session times without a zone


def from_ticks(ticks: int) -> dt.datetime:
    return ticks_to_datetime(ticks).replace(tzinfo=None)  # naive UTC, as Spark returns


def an_alarm_to_watch(model: AssetModel, now: dt.datetime):
    """An alarm starting in the next hours that closes and is acknowledged within 50 minutes, some
    minutes after it started: the first update runs a second after its start, the second an hour later."""
    frames = EventFrames(model).frames(to_ticks(now), to_ticks(now + dt.timedelta(hours=3)), ("Alarm",))
    minute = 60 * 10**7
    return next(
        f
        for f in sorted(frames, key=lambda f: f.start)
        if f.start > to_ticks(now)
        and f.ack_at != NEVER
        and f.ack_at - f.start > minute
        and max(f.end, f.ack_at) - f.start < 50 * minute
    )


@pytest.fixture(scope="module")
def run(local_pipeline_factory):
    archive = Archive(seed=8, n_points=60)
    first = dt.datetime.now(UTC).replace(microsecond=0)
    other = next(p.name for p in archive.points if p.name.startswith("HOU.U002."))  # a tag of another unit
    alarm = an_alarm_to_watch(AssetModel(archive), first)
    first = from_ticks(alarm.start).replace(tzinfo=UTC) + dt.timedelta(seconds=1)
    change = first + dt.timedelta(minutes=30)
    model = AssetModel(
        archive,
        AFChanges(renames=((RENAMED, to_ticks(change), "P-001A"),), repoints=((REPOINTED, to_ticks(change), other),)),
    )
    with SimulatorServer(archive, assets=model) as server:
        server.api.clock = lambda: first
        pipeline = local_pipeline_factory(
            {
                "pi.url": server.url,
                "pi.backfill_start": "*-5m",
                "pi.settle_lag": "1s",
                "pi.lookback": "60s",
                "pi.af.databases": "Operations",
                "pi.af.refresh": "0s",
                "pi.af.page_size": "20",
                "pi.ef.backfill_start": "*-1d",
                "pi.ef.page_size": "50",
            },
            "af",
        )
        spark = pipeline.spark
        out = {
            "spark": spark,
            "model": model,
            "archive": archive,
            "server": server,
            "other": other,
            "first": first,
            "later": first + dt.timedelta(hours=1),
            "alarm": alarm,
        }
        for n, when in ((1, first), (2, out["later"])):
            server.api.clock = lambda when=when: when
            result = pipeline.update()
            assert result.ok, result.error
            out[f"elements_{n}"] = spark.read.table("pi_af_elements").collect()
            out[f"attributes_{n}"] = spark.read.table("pi_af_attributes").collect()
            out[f"mapping_{n}"] = spark.read.table("pi_tag_assets").collect()
            out[f"frames_{n}"] = spark.read.table("pi_event_frames").collect()
            out[f"alarms_{n}"] = spark.read.table("pi_alarms").collect()
        out["reconciled_2"] = [
            *reconcile_af.reconcile_af(spark, model, out["later"]),
            reconcile_af.reconcile_event_frames(spark, model, as_of=out["later"]),
        ]
        out["snapshots_2"] = (
            spark.sql("SELECT count(*) AS n FROM pi_af_bronze WHERE record_kind = 'snapshot'").first().n
        )
        for table in ("pi_event_frame_attributes", "pi_downtime_daily_gold", "pi_batches_daily_gold", "pi_hourly_gold"):
            out[table] = spark.read.table(table).collect()
        out["reads_2"] = spark.sql(
            "SELECT * FROM pi_event_frames_bronze WHERE record_kind = 'read' ORDER BY search_end"
        ).collect()
        pipeline.configuration["pi.af.refresh"] = "1h"  # the next update is not due for a snapshot
        result = pipeline.update()
        assert result.ok, result.error
        out["snapshots_3"] = (
            spark.sql("SELECT count(*) AS n FROM pi_af_bronze WHERE record_kind = 'snapshot'").first().n
        )
        out["frames_3"] = spark.read.table("pi_event_frames").collect()
        out["pi_hourly_assets_gold"] = spark.read.table("pi_hourly_assets_gold").collect()  # a view: gold now
        out["pi_hourly_gold_3"] = spark.read.table("pi_hourly_gold").collect()
        out["doc_queries"] = [(q, spark.sql(q).count()) for q in doc_queries()]
        out["reads_3"] = (
            spark.sql("SELECT count(*) AS n FROM pi_event_frames_bronze WHERE record_kind = 'read' AND status = 'ok'")
            .first()
            .n
        )
        yield out


def doc_queries() -> list[str]:
    text = (REPO / "docs" / "assets.md").read_text()
    return [block.split("```", 1)[0] for block in text.split("```sql\n")[1:]]


def current_equals_truth(run, elements, attributes, when):
    model: AssetModel = run["model"]
    state = model.state(to_ticks(when))
    current = {r.id: r for r in elements if r.is_current}
    assert set(current) == {str(e) for e in state.elements}
    for eid, e in state.elements.items():
        row = current[str(eid)]
        assert (row.name, row.path, row.template) == (e.name, model.full_path(state.paths[eid]), e.template)
    attrs = {r.id: r for r in attributes if r.is_current}
    assert set(attrs) == {str(a) for a in state.attributes}
    for aid, a in state.attributes.items():
        row = attrs[str(aid)]
        assert row.path == model.full_path(f"{state.paths[a.element]}|{a.name}")
        assert row.tag == (a.tag if a.template.data_reference else None)


def test_af_silver_equals_the_model_after_the_first_update(run):
    current_equals_truth(run, run["elements_1"], run["attributes_1"], run["first"])
    assert all(r.valid_to is None for r in run["elements_1"] + run["attributes_1"])
    mapped = {r.tag: r for r in run["mapping_1"] if r.web_id}
    points = run["archive"].points
    assert set(mapped) == {p.name for p in points}  # every tag maps to an asset
    for p in points:
        assert mapped[p.name].web_id == run["server"].api.point_webid(p)
        assert mapped[p.name].element_path.startswith("\\\\PIAFSIM\\Operations\\")


def test_a_rename_and_a_repoint_close_the_old_versions_and_open_new_ones(run):
    current_equals_truth(run, run["elements_2"], run["attributes_2"], run["later"])
    model = run["model"]
    renamed = str(next(e for e, p in model.state(0).paths.items() if p == RENAMED))
    versions = sorted((r for r in run["elements_2"] if r.id == renamed), key=lambda r: r.valid_from)
    assert [(v.name, v.is_current) for v in versions] == [("P-001", False), ("P-001A", True)]
    assert versions[0].valid_to == versions[1].valid_from
    untouched = [r for r in run["elements_2"] if "Unit 001" not in r.path]
    assert untouched and all(r.is_current and r.valid_to is None for r in untouched)  # one version each
    flow = [r for r in run["attributes_2"] if r.name == "Discharge Flow" and "Sydney\\Unit 001\\P-001" in r.path]
    tags = [r.tag for r in sorted(flow, key=lambda r: r.valid_from)]
    assert tags[0].startswith("SYD.U001.FT") and tags[-1] == run["other"] and flow[-1].is_current
    # the new tag is now referenced twice (by its own asset and the re-pointed attribute), the old one by none
    uses = [r for r in run["mapping_2"] if r.tag == run["other"]]
    assert sorted(r.element_name for r in uses)[0] == "P-001A" and len(uses) == 2
    assert not [r for r in run["mapping_2"] if r.tag == tags[0]]


def test_no_new_snapshot_before_the_refresh_interval(run):
    assert run["snapshots_2"] == 2 and run["snapshots_3"] == 2


# ---- event frames -------------------------------------------------------------------------------


def frames_truth(run, when: dt.datetime) -> dict:
    """The frames the reads up to ``when`` found: active from the first read's start on, as of ``when``."""
    return reconcile_af.frames_truth(run["model"], run["reads_2"][0].search_start.replace(tzinfo=UTC), when)


def frames_equal_truth(run, rows, when):
    expected = frames_truth(run, when)
    got = {r.id: r for r in rows}
    assert len(got) == len(rows) and set(got) == set(expected) and len(got) > 50
    for fid, state in expected.items():
        row, f = got[fid], state.frame
        acknowledged = EF_TEMPLATES[f.template].can_be_acknowledged and state.is_acknowledged
        assert (row.name, row.template, row.severity) == (f.name, f.template, f.severity)
        assert (row.start_time, row.in_progress) == (from_ticks(f.start), state.in_progress)
        assert row.end_time == (None if state.in_progress else from_ticks(f.end))
        assert (row.is_acknowledged, row.acknowledged_by) == (acknowledged, f.ack_by if acknowledged else None)
        values = {k: json.loads(v)["Value"] for k, v in row.attributes.items()}
        assert values == {k: v if v is not None else values[k] for k, v in state.values.items()}
    return expected


def test_event_frame_silver_equals_the_truth_after_each_update(run):
    frames_equal_truth(run, run["frames_1"], run["first"])
    expected = frames_equal_truth(run, run["frames_2"], run["later"])
    assert {r.id for r in run["frames_3"]} == set(expected)  # a third read changes nothing
    assert run["reads_3"] == 3 and [r.status for r in run["reads_2"]] == ["ok", "ok"]
    # the second read started at the first one's end minus the default lookback (4h)
    assert run["reads_2"][1].search_start == run["reads_2"][0].search_end - dt.timedelta(hours=4)
    attributes = collections.Counter(r.frame_id for r in run["pi_event_frame_attributes"])
    assert attributes == {fid: len(EF_TEMPLATES[s.frame.template].attributes) for fid, s in expected.items()}


def test_the_make_run_reconciliation_finds_af_and_event_frame_silver_exact(run):
    assert [c.what for c in run["reconciled_2"]] == ["AF elements", "AF attributes", "event frames"]
    for comparison in run["reconciled_2"]:
        assert comparison.exact and comparison.silver == comparison.truth > 30, comparison.line()


def test_an_alarm_open_at_one_update_is_closed_and_acknowledged_at_the_next(run):
    alarm = run["alarm"]
    before = next(r for r in run["alarms_1"] if r.id == str(alarm.id))
    after = next(r for r in run["alarms_2"] if r.id == str(alarm.id))
    assert before.in_progress and before.end_time is None and not before.is_acknowledged
    assert not after.in_progress and after.end_time == from_ticks(alarm.end)
    assert after.is_acknowledged and after.acknowledged_by == alarm.ack_by
    assert after.acknowledged_at == from_ticks(alarm.ack_at)
    assert after.seconds_to_acknowledge == (alarm.ack_at - alarm.start) / 1e7
    assert after.element_path.startswith("\\\\PIAFSIM\\Operations\\") and after.severity == alarm.severity


def test_downtime_and_batch_kpis_equal_the_ones_computed_from_the_simulator(run):
    model, when = run["model"], run["later"]
    state = model.state(to_ticks(when))
    downtime, batches = collections.defaultdict(float), collections.defaultdict(list)
    for s in frames_truth(run, when).values():
        f = s.frame
        if s.in_progress:
            continue
        if f.template == "Downtime":
            start, end = from_ticks(f.start), from_ticks(f.end)
            day = start.date()
            while dt.datetime.combine(day, dt.time()) < end:
                lo = max(start, dt.datetime.combine(day, dt.time()))
                hi = min(end, dt.datetime.combine(day + dt.timedelta(days=1), dt.time()))
                downtime[(model.full_path(state.paths[f.element]), day)] += (hi - lo).total_seconds() / 60
                day += dt.timedelta(days=1)
        elif f.template == "Batch":
            batches[(s.values["Product"], from_ticks(f.start).date())].append((f.end - f.start) / 6e8)
    got = {(r.element_path, r.day): r.downtime_minutes for r in run["pi_downtime_daily_gold"]}
    assert got.keys() == downtime.keys() and len(got) > 5
    assert all(abs(got[k] - v) < 1e-3 for k, v in downtime.items())
    got = {(r.product, r.day): (r.batches, r.total_minutes, r.max_minutes) for r in run["pi_batches_daily_gold"]}
    assert got.keys() == batches.keys() and got
    for k, durations in batches.items():
        assert got[k][0] == len(durations) and abs(got[k][1] - sum(durations)) < 1e-3
        assert abs(got[k][2] - max(durations)) < 1e-3


def test_hourly_gold_with_assets_is_the_hourly_gold_of_every_mapped_tag(run):
    """A view: the hourly gold of the last update, with the mapping of the last snapshot (update 2's)."""
    mapped = collections.Counter(r.web_id for r in run["mapping_2"] if r.web_id)
    hourly = run["pi_hourly_gold_3"]
    assert len(run["pi_hourly_assets_gold"]) == sum(mapped[r.web_id] for r in hourly) > 0
    assert all(r.element_path and r.attribute_name for r in run["pi_hourly_assets_gold"])


def test_the_example_queries_of_the_docs_run_and_find_rows(run):
    assert len(run["doc_queries"]) == 6
    for query, rows in run["doc_queries"]:
        assert rows > 0, query
