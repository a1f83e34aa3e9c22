"""The pipeline running continuously (``devtools.continuous``: its flows as Structured Streaming queries with
a processing-time trigger, as a continuous Databricks pipeline runs them) against a simulator whose clock is
the real one: tags follow Stream Updates through late values and edits, an element is renamed and an event
frame closes while the pipeline runs, and no update is ever restarted. After the simulator's clock stops,
silver equals the truth, the AF history has the rename and the frame is closed in ``pi_event_frames``."""

from __future__ import annotations

import datetime as dt

import pytest

from connector_lib.timeutil import epoch_micros, from_epoch_micros
from devtools import reconcile_af
from devtools.continuous import ContinuousPipeline
from devtools.reconcile import reconcile
from pi_simulator import Archive, SimulatorServer
from pi_simulator.af import AFChanges, AssetModel
from pi_simulator.eventframes import EventFrames
from pi_simulator.model import ArchiveChanges
from pi_simulator.truth import ticks_to_datetime, to_ticks

UTC = dt.UTC
RENAMED = "Sydney\\Unit 001\\P-001"
LATE = ArchiveChanges(seed=2, buffered_share=0.3, max_delay_s=5, edit_share=0.1, max_edit_delay_s=8)


class Clock:
    """Real time until stopped."""

    def __init__(self):
        self.stopped: dt.datetime | None = None

    def __call__(self) -> dt.datetime:
        return self.stopped or dt.datetime.now(UTC)


def ok_records_after(spark, table: str, kind: str, column: str, at: dt.datetime) -> int:
    """The pipeline's ``kind`` records in bronze ``table`` with status ok and ``column`` after ``at``:
    complete AF snapshots taken (``extracted_at``), event frame reads planned (``search_end``)."""
    return (
        spark.sql(
            f"SELECT count(*) AS n FROM continuous.{table} WHERE record_kind = '{kind}' AND status = 'ok' "
            f"AND {column} > timestamp_micros({epoch_micros(at)})"
        )
        .first()
        .n
    )


def a_model_with_a_frame_closing_soon(now: dt.datetime):
    """The first archive seed whose AF model has an event frame in progress now that closes 50 to 110 s from
    now (about one seed in three has one), with that frame: the pipeline has read it in progress by then."""
    lo, hi = to_ticks(now + dt.timedelta(seconds=50)), to_ticks(now + dt.timedelta(seconds=110))
    for seed in range(1, 200):
        archive = Archive(seed=seed, n_points=90, changes=LATE, interval_scale=0.1)
        frames = EventFrames(AssetModel(archive)).frames(to_ticks(now), hi, None)
        closing = [f for f in frames if f.start < to_ticks(now) and lo < f.end < hi]
        if closing:
            return archive, closing[0]
    raise AssertionError("no seed has an event frame closing in the next 90 s")


@pytest.fixture(scope="module")
def run(local_pipeline_factory, tmp_path_factory):
    spark = local_pipeline_factory({}, "continuous_session").spark  # first: the changes below count from now
    now = dt.datetime.now(UTC)
    archive, frame = a_model_with_a_frame_closing_soon(now)
    model = AssetModel(archive)
    clock = Clock()
    with SimulatorServer(archive, assets=model, clock=clock) as server:
        pipeline = ContinuousPipeline(
            tmp_path_factory.mktemp("continuous"),
            {
                "pi.url": server.url,
                "pi.read_mode": "updates",
                "pi.backfill_start": "*-3m",
                "pi.settle_lag": "1s",
                "pi.lookback": "30s",
                "pi.af.databases": "Operations",
                "pi.af.refresh": "15s",
                "pi.ef.interval": "5s",
                "pi.ef.backfill_start": "*-2h",
            },
            database="continuous",
            interval="2 seconds",
            spark=spark,
        )
        pipeline.start()
        try:
            # the rename comes after the first AF snapshot, however long the pipeline took to start
            failures = pipeline.run_until(
                lambda: ok_records_after(spark, "pi_af_bronze", "snapshot", "extracted_at", now) > 0
            )
            renamed_at = dt.datetime.now(UTC) + dt.timedelta(seconds=2)
            model.schedule(AFChanges(renames=((RENAMED, to_ticks(renamed_at), "P-001A"),)))
            closes = ticks_to_datetime(frame.end)
            failures |= pipeline.run_until(
                lambda: (
                    ok_records_after(spark, "pi_af_bronze", "snapshot", "extracted_at", renamed_at) > 0
                    and ok_records_after(spark, "pi_event_frames_bronze", "read", "search_end", closes) > 0
                )
            )
            clock.stopped = dt.datetime.now(UTC)  # nothing more becomes visible, nothing more changes
            # the queries catch up with the stopped clock: every reader runs a micro-batch past the event
            # frames' interval after it
            failures |= pipeline.catch_up(clock.stopped + dt.timedelta(seconds=7))
            pipeline.drain()  # then silver, the AF history and the frames merge all their bronze holds
        finally:
            pipeline.stop()
        yield {
            "spark": spark,
            "archive": archive,
            "model": model,
            "frame": frame,
            "stopped": clock.stopped,
            "failures": failures,
        }


def test_the_queries_ran_without_a_failure(run):
    assert run["failures"] == {}


def test_silver_equals_the_truth_after_following_stream_updates(run):
    spark = run["spark"]
    rec = reconcile(spark, run["archive"], as_of=run["stopped"], bronze_table="pi_recorded_bronze")
    assert rec.tags == 90 and rec.truth > 1000
    assert (rec.missing, rec.duplicated, rec.unexpected, rec.mismatched, rec.behind_watermark) == (0, 0, 0, 0, 0), (
        f"{rec}\n{explain(spark, run['archive'], rec.missing_keys)}"
    )
    followed = spark.sql(
        "SELECT count(*) AS n FROM pi_recorded_bronze WHERE record_kind = 'window' "
        "AND get_json_object(raw, '$.marker') IS NOT NULL"
    ).first()
    assert followed.n > 90  # every tag followed Stream Updates, over many micro-batches
    edited = spark.sql(
        "SELECT count(*) AS n FROM (SELECT web_id, timestamp, sequence FROM pi_recorded_bronze "
        "WHERE record_kind = 'value' GROUP BY 1, 2, 3 HAVING count(DISTINCT value_double) > 1)"
    ).first()
    assert edited.n > 0  # edits arrived while the pipeline ran, and silver took them


def explain(spark, archive, keys) -> str:
    """Where the missing keys are, one line each: when the value became visible (and edited) in the
    simulator, its bronze rows, the windows of its tag around it, and what silver holds at its instant."""
    lines = []
    for tag, micros, sequence in keys:
        point = next(p for p in archive.points if p.name == tag)
        ticks = to_ticks(from_epoch_micros(micros))
        seen = [
            (int(v), int(e))
            for seg in archive.arrivals(point, ticks, ticks)
            for t, v, e in zip(seg.ticks, seg.visible, seg.edit_at, strict=True)
            if int(t) == ticks
        ]
        lines.append(f"{tag} {from_epoch_micros(micros).isoformat()} seq {sequence}: visible, edited at {seen}")
        rows = spark.sql(f"""
            SELECT record_kind, sequence, window_start, window_end, status, raw, extracted_at FROM pi_recorded_bronze
            WHERE tag = '{tag}' AND ((record_kind = 'value' AND unix_micros(timestamp) = {micros})
              OR (record_kind = 'window' AND unix_micros(window_end) >= {micros} - 60000000
                  AND unix_micros(window_start) <= {micros} + 60000000))
            ORDER BY extracted_at""").collect()
        lines.extend(f"  bronze {r.asDict()}" for r in rows)
        silver = spark.sql(
            f"SELECT sequence, value_double FROM pi_timeseries_silver WHERE tag = '{tag}' "
            f"AND unix_micros(timestamp) = {micros}"
        ).collect()
        lines.append(f"  silver {[r.asDict() for r in silver]}")
    text = "\n".join(lines)
    print(text)  # in full under the test's captured output; an assertion message is cut short
    return text


def test_the_rename_reached_the_af_history_without_a_restart(run):
    for comparison in reconcile_af.reconcile_af(run["spark"], run["model"], run["stopped"]):
        assert comparison.exact, comparison.line()
    versions = (
        run["spark"]
        .sql(
            "SELECT name, is_current FROM pi_af_elements WHERE path LIKE '%Sydney\\\\\\\\Unit 001\\\\\\\\P-001%' "
            "AND template IS NOT NULL ORDER BY valid_from"
        )
        .collect()
    )
    assert [(v.name, v.is_current) for v in versions][-2:] == [("P-001", False), ("P-001A", True)]


def test_the_frame_closed_in_the_frame_tables_without_a_restart(run):
    spark, frame = run["spark"], run["frame"]
    reads = spark.sql(
        f"SELECT in_progress FROM pi_event_frames_bronze WHERE id = '{frame.id}' ORDER BY extracted_at"
    ).collect()
    assert reads[0].in_progress and not reads[-1].in_progress
    row = spark.sql(f"SELECT in_progress, end_time FROM pi_event_frames WHERE id = '{frame.id}'").first()
    assert not row.in_progress and row.end_time == ticks_to_datetime(frame.end).replace(tzinfo=None)
    comparison = reconcile_af.reconcile_event_frames(spark, run["model"], as_of=run["stopped"])
    assert comparison.exact, comparison.line()
