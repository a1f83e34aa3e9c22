"""A targeted re-read on the real pipeline: values edited in PI long after they were read (older than
the lookback) are wrong in silver until the user files a re-read request for chosen tags and a time
range; the next update reads exactly that, in bounded chunks, and silver equals the ground truth for
those tags again, without a full refresh and without moving any watermark."""

import datetime as dt

import pytest

from connector_lib.config import ConfigError
from connector_lib.spark.reread import request_reread
from devtools.reconcile import reconcile
from pi_simulator import Archive, ArchiveChanges, SimulatorServer

UTC = dt.UTC
CHOSEN = "SYD.*, hou.u001.ft00002.pv"  # a PI name filter and a name in other case


def utc(naive: dt.datetime) -> dt.datetime:
    """Spark Connect returns session-time-zone (UTC here) timestamps without a zone."""
    return naive.replace(tzinfo=UTC)


def reread_windows(spark, request_id):
    return spark.sql(f"""SELECT tag, window_start, window_end, status, prior_watermark FROM pi_extraction_log
                         WHERE reread_id = '{request_id}' ORDER BY tag, window_start""").collect()


@pytest.fixture(scope="module")
def run(local_pipeline_factory):
    # values are edited up to 3 hours after they became visible: far beyond the 60 s lookback
    archive = Archive(seed=31, n_points=12, changes=ArchiveChanges(seed=31, edit_share=0.2, max_edit_delay_s=3 * 3600))
    chosen = {p.name for p in archive.points if p.name.startswith("SYD.") or p.name == "HOU.U001.FT00002.PV"}
    with SimulatorServer(archive) as server:
        pipeline = local_pipeline_factory(
            {
                "pi.url": server.url,
                "pi.backfill_start": "*-90m",
                "pi.lookback": "60s",
                "pi.settle_lag": "2s",
                "pi.max_window": "40m",
                "pi.tags_per_request": "5",
            },
            "reread",
        )
        spark = pipeline.spark
        first = pipeline.update()
        assert first.ok, first.error
        read_until = dt.datetime.now(UTC)
        marks = {r.tag: (r.coverage_start, r.watermark) for r in spark.read.table("pi_watermarks").collect()}
        # three hours pass on the PI server: many values read by update 1 are edited since
        later = read_until + dt.timedelta(hours=3)
        server.api.clock = lambda: later
        second = pipeline.update()
        assert second.ok, second.error
        stale = reconcile(spark, archive, as_of=later)
        start = min(lo for lo, _ in marks.values()) - dt.timedelta(minutes=30)  # also before the backfill start
        request_reread(spark, "fix-edits", start, read_until, tags=CHOSEN, note="edits after the lookback")
        third = pipeline.update()
        assert third.ok, third.error
        result = {
            "spark": spark,
            "archive": archive,
            "chosen": chosen,
            "marks": marks,
            "later": later,
            "stale": stale,
            "start": start,
            "read_until": read_until,
            "fixed": reconcile(spark, archive, as_of=later, exclude_tags=set(marks) - chosen),
            "others": reconcile(spark, archive, as_of=later, exclude_tags=chosen),
            "windows": reread_windows(spark, "fix-edits"),
        }
        # a bad request stops the next update before anything is read, with one clear line
        spark.sql("""INSERT INTO pi_reread_requests VALUES ('backwards', NULL, TIMESTAMP '2026-01-02 00:00:00',
                     TIMESTAMP '2026-01-01 00:00:00', NULL, NULL)""")
        try:
            result["bad"] = pipeline.update()
        except ConfigError as exc:  # raised while the pipeline files load
            result["bad"] = exc
        spark.sql("DELETE FROM pi_reread_requests WHERE request_id = 'backwards'")
        result["after_fix"] = pipeline.update()
        result["windows_after"] = reread_windows(spark, "fix-edits")
        yield result


def test_without_a_reread_edits_older_than_the_lookback_stay_wrong(run):
    print("before the re-read:", run["stale"].line(), "mismatched", run["stale"].mismatched)
    assert run["stale"].mismatched > 20 and run["stale"].duplicated == 0


def test_the_reread_makes_silver_equal_the_truth_for_the_chosen_tags(run):
    fixed = run["fixed"]
    print("chosen tags after the re-read:", fixed.line(), "tags", fixed.tags)
    assert fixed.tags == len(run["chosen"]) == 4 and fixed.truth > 500
    assert fixed.exact and fixed.silver == fixed.truth
    assert run["others"].mismatched > 0  # the tags not chosen were not re-read


def test_the_reread_is_read_in_bounded_chunks_once_and_only_for_the_chosen_tags(run):
    windows = run["windows"]
    assert {w.tag for w in windows} == run["chosen"]
    assert all(w.status == "ok" for w in windows)
    for tag in run["chosen"]:
        spans = [(utc(w.window_start), utc(w.window_end)) for w in windows if w.tag == tag]
        assert spans[0][0] == utc(run["start"]) and spans[-1][1] == run["read_until"]
        assert all(b[0] == a[1] for a, b in zip(spans, spans[1:]))  # gapless, no overlap
        assert all(hi - lo <= dt.timedelta(minutes=40) for lo, hi in spans) and len(spans) >= 3
    assert all(w.prior_watermark is not None for w in windows)  # values first seen here count as late
    assert len(run["windows_after"]) == len(windows)  # done: the next update did not read it again


def test_reread_windows_do_not_move_any_watermark(run):
    spark = run["spark"]
    for r in spark.read.table("pi_watermarks").collect():
        coverage_start, watermark = run["marks"][r.tag]
        assert r.coverage_start == coverage_start and r.watermark > watermark and r.last_status == "ok"


def test_a_bad_request_fails_the_update_with_one_line_and_nothing_is_lost(run):
    bad = run["bad"]
    text = str(bad) if isinstance(bad, ConfigError) else (bad.error or "")
    print("the bad request:", type(bad).__name__, text[:300])
    assert not getattr(bad, "ok", False)
    assert "spark_catalog.reread.pi_reread_requests: request 'backwards': start_time must be before end_time" in text
    assert run["after_fix"].ok, run["after_fix"].error
    spark = run["spark"]
    final = reconcile(spark, run["archive"], as_of=run["later"], exclude_tags=set(run["marks"]) - run["chosen"])
    assert final.exact
