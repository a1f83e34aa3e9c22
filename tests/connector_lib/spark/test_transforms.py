"""chispa tests of the silver, watermark and gold transformations on a real local Spark."""

import datetime as dt
import json

import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import functions as F

from connector_lib.spark import transforms
from tests.conftest import at, bronze, value, window

UTC = dt.UTC


def test_silver_keeps_each_event_once_with_the_latest_value_and_flags_late_arrivals(spark):
    rows = [
        value("A", 1, 10.0, read_at=5),  # first read
        value("A", 1, 11.0, read_at=20, prior=at(5)),  # re-read in the lookback: edited value
        value("A", 1, 7.0, read_at=20, prior=at(5), seq=1),  # second event on the same timestamp
        value("A", 3, 12.0, read_at=20, prior=at(5)),  # arrived after the first read covered it
        value("A", 8, 13.0, read_at=20, prior=at(5)),  # new data after the watermark
        window("A", 0, 5, "ok", 5, 1),
        {"record_kind": "quarantine", "web_id": "WA", "tag": "A", "raw": "{}", "extracted_at": at(20)},
    ]
    got = transforms.silver_values(bronze(spark, rows)).select(
        "tag", "timestamp", "sequence", "value_double", "is_late", "extracted_at", "first_seen_at"
    )
    expected = spark.createDataFrame(
        [
            ("A", at(1), 0, 11.0, False, at(20), at(5)),
            ("A", at(1), 1, 7.0, True, at(20), at(20)),
            ("A", at(3), 0, 12.0, True, at(20), at(20)),
            ("A", at(8), 0, 13.0, False, at(20), at(20)),
        ],
        "tag string, timestamp timestamp, sequence int, value_double double, is_late boolean, "
        "extracted_at timestamp, first_seen_at timestamp",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_silver_prefers_a_real_value_to_a_per_value_error_whatever_the_order(spark):
    rows = [
        value("A", 1, 10.0, read_at=5),  # read fine, then an error on re-read
        value("A", 1, None, read_at=20, vtype="error", good=False, errors="[busy]"),
        value("A", 2, None, read_at=5, vtype="error", good=False, errors="[busy]"),  # error, then fine
        value("A", 2, 12.0, read_at=20),
        value("A", 3, None, read_at=5, vtype="error", good=False, errors="[busy]"),  # only ever an error
    ]
    got = transforms.silver_values(bronze(spark, rows)).select(
        "timestamp", "value_type", "value_double", "extracted_at", "last_seen_at"
    )
    expected = spark.createDataFrame(
        [
            (at(1), "number", 10.0, at(5), at(20)),
            (at(2), "number", 12.0, at(20), at(20)),
            (at(3), "error", None, at(5), at(5)),
        ],
        "timestamp timestamp, value_type string, value_double double, extracted_at timestamp, last_seen_at timestamp",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_watermark_stops_at_the_first_gap(spark):
    rows = [
        window("A", 0, 10, "ok", 10),
        window("A", 5, 20, "failed", 20),
        window("A", 5, 30, "ok", 30),
        window("B", 0, 10, "ok", 10),
        window("B", 15, 30, "ok", 30),  # gap 10..15: not covered
        window("C", 0, 10, "failed", 10),
    ]
    got = transforms.watermarks(bronze(spark, rows)).select(
        "tag", "coverage_start", "watermark", "last_status", "failing_since"
    )
    expected = spark.createDataFrame(
        [
            ("A", at(0), at(30), "ok", None),
            ("B", at(0), at(10), "ok", None),
            ("C", None, None, "failed", at(10)),
        ],
        "tag string, coverage_start timestamp, watermark timestamp, last_status string, failing_since timestamp",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def marks(spark, until, step=False):
    """The watermark row gold reads for tag A: its Step and how far its events are known."""
    return spark.createDataFrame(
        [("WA", "A", step, until)], "web_id string, tag string, step boolean, watermark timestamp"
    )


def test_hourly_gold_has_event_statistics_and_pi_time_weighted_ones(any_zone_spark):
    spark = any_zone_spark
    silver = transforms.silver_values(
        bronze(
            spark,
            [
                value("A", 0, 10.0, read_at=90),
                value("A", 30, 20.0, read_at=90),
                value("A", 45, None, read_at=90, vtype="system", good=False, state_name="I/O Timeout", state_code=246),
                value("A", 75, 30.0, read_at=90),
            ],
        )
    )
    got = transforms.hourly_gold(silver, marks(spark, at(90))).select(
        "tag",
        "hour",
        "count",
        "good_numeric_count",
        "min",
        "max",
        "mean",
        "time_weighted_mean",
        "first",
        "last",
        "good_share",
        "time_weighted_good_share",
    )
    # 10:00-10:30 the line 10 -> 20 (450), 10:30-10:45 20 held up to the bad event (300), then bad;
    # 11:00-11:15 still bad, 30 from 11:15 to the watermark at 11:30 (the known half of the hour)
    expected = spark.createDataFrame(
        [
            ("A", at(0), 3, 2, 10.0, 20.0, 15.0, 750 / 45, 10.0, 20.0, 2 / 3, 45 / 60),
            ("A", at(60), 1, 1, 30.0, 30.0, 30.0, 30.0, 30.0, 30.0, 1.0, 15 / 30),
        ],
        "tag string, hour timestamp, count bigint, good_numeric_count bigint, min double, max double, mean double, "
        "time_weighted_mean double, first double, last double, good_share double, time_weighted_good_share double",
    )
    assert_approx_df_equality(got, expected, 1e-9, ignore_row_order=True, ignore_nullable=True)


def test_an_hour_whose_good_values_held_for_no_time_has_no_time_weighted_mean(spark):
    """A good value followed at its own timestamp by a system state (the same time, the next sequence)
    holds for no time; an hour of only such values has a count, a mean and no time-weighted mean (and does
    not divide by zero under ANSI SQL)."""
    silver = transforms.silver_values(
        bronze(
            spark,
            [
                value("A", 10, 5.0, read_at=90),
                value(
                    "A", 10, None, read_at=90, seq=1, vtype="system", good=False, state_name="Shutdown", state_code=254
                ),
                value("A", 70, 6.0, read_at=90),
            ],
        )
    )
    first, second = transforms.hourly_gold(silver, marks(spark, at(90))).orderBy("hour").collect()
    assert (first["count"], first.good_numeric_count, first.mean, first.time_weighted_mean) == (2, 1, 5.0, None)
    assert first.time_weighted_good_share == 0.0
    assert second.time_weighted_mean == 6.0 and second.time_weighted_good_share == pytest.approx(20 / 30)


def test_an_hour_without_events_between_two_has_a_gold_row(spark):
    silver = transforms.silver_values(
        bronze(spark, [value("A", -10, 0.0, read_at=200), value("A", 70, 80.0, read_at=200)])
    )
    rows = {r.hour.replace(tzinfo=None): r for r in transforms.hourly_gold(silver, marks(spark, at(70))).collect()}
    silent = rows[at(0).replace(tzinfo=None)]
    assert (silent["count"], silent.tag, silent.mean) == (0, "A", None)
    assert silent.time_weighted_mean == pytest.approx(40.0)  # the line is 10 at 10:00 and 70 at 11:00


@pytest.mark.parametrize("rule_table", ["pi_timeseries_silver", "pi_hourly_gold"])
def test_expectation_rules_parse_and_run(spark, rule_table):
    import expectations

    rules = expectations.load_rules(rule_table)
    assert {r.action for r in rules} <= {"warn", "drop", "fail"} and rules
    df = spark.createDataFrame([(1,)], "x int")
    bad = expectations.Rule("x_positive", "x > 1", "fail")
    with pytest.raises(Exception, match="EXPECTATION_VIOLATION: x_positive"):
        expectations.apply_local(df, [bad]).collect()
    dropped = expectations.apply_local(df, [expectations.Rule("x_big", "x > 1", "drop")])
    assert dropped.count() == 0
    kept = expectations.apply_local(df, [expectations.Rule("x_big", "x > 1", "warn")])
    assert kept.count() == 1


def test_reread_windows_never_move_a_watermark_and_are_named_in_the_extraction_log(spark):
    reread = {"raw": '{"reread": "fix-1"}'}
    rows = [
        window("A", 60, 70, "ok", 70),
        window("A", 70, 80, "ok", 80),
        # a re-read of an older range, before the coverage: would start a first island if it counted
        {**window("A", 0, 10, "ok", 90), **reread},
        # a re-read past the watermark, and a failed one: neither moves it nor changes the last status
        {**window("A", 80, 95, "ok", 95), **reread},
        {**window("A", 10, 20, "failed", 96), **reread},
    ]
    got = transforms.watermarks(bronze(spark, rows)).select(
        "tag", "coverage_start", "watermark", "last_status", "failing_since"
    )
    expected = spark.createDataFrame(
        [("A", at(60), at(80), "ok", None)],
        "tag string, coverage_start timestamp, watermark timestamp, last_status string, failing_since timestamp",
    )
    assert_df_equality(got, expected, ignore_nullable=True)
    log = transforms.extraction_log(bronze(spark, rows)).orderBy("extracted_at").select("reread_id", "status")
    assert [tuple(r) for r in log.collect()] == [
        (None, "ok"),
        (None, "ok"),
        ("fix-1", "ok"),
        ("fix-1", "ok"),
        ("fix-1", "failed"),
    ]


def test_state_at_start_takes_the_completion_records_committed_after_the_last_refresh(any_zone_spark):
    spark = any_zone_spark
    """An update killed after some micro-batches committed: pi_watermarks never saw them, bronze holds
    them. The next update starts from them (a long backfill resumes instead of starting over)."""
    from connector_lib.spark.state import load_state

    spark.sql("CREATE DATABASE IF NOT EXISTS state_test")
    refreshed_at = 40  # minute of the view's last refresh

    def following(record, marker):  # a window of a tag following Stream Updates
        return {**record, "raw": json.dumps({"marker": marker})}

    old = [
        following(window("A", 0, 30, "ok", 30, 30), "mA1"),
        window("B", 0, 10, "ok", 10, 10),
        following(window("D", 0, 10, "ok", 10, 10), "mD"),  # in the view only: its marker carried from there
        # an ok window the view must have had a reason to leave out: read long before its refresh, it is
        # not read again (only records newer than the refresh, less a clock margin, are)
        window("A", 90, 120, "ok", refreshed_at - 20, 5),
    ]
    tail = [
        window("A", 29, 60, "ok", 61, 31),
        following(window("A", 60, 90, "ok", 91, 30), "mA2"),  # lookback, then a chunk
        window("B", 10, 20, "failed", 62),
        window("B", 20, 30, "ok", 62, 10),  # a gap: B stays at 10
        window("C", 0, 10, "ok", 63, 20),
        window("C", 10, 20, "ok", 64, 10),  # a tag new in the killed run
        {**window("A", 90, 500, "ok", 65), "raw": '{"reread": "x"}'},
    ]  # a re-read never counts
    bronze(spark, old).write.format("delta").mode("overwrite").saveAsTable("state_test.bronze")
    view = transforms.watermarks(bronze(spark, old[:3]))
    view.withColumn("updated_at", F.lit(at(refreshed_at))).write.format("delta").mode("overwrite").saveAsTable(
        "state_test.marks"
    )
    bronze(spark, tail).write.format("delta").mode("append").saveAsTable("state_test.bronze")  # after the refresh
    marks, densities, markers = load_state(spark, "state_test.marks", "state_test.bronze")
    assert marks == {"WA": at(90), "WB": at(10), "WC": at(20), "WD": at(10)}
    assert markers == {"WA": "mA2", "WD": "mD"}  # B's and C's last reads were recorded ones
    assert densities["WA"] == pytest.approx(91 / (90 * 60))  # the view's 30 values plus the tail's 61
    # without the view (killed during the very first update) bronze alone gives the same
    spark.sql("DROP TABLE state_test.marks")
    assert load_state(spark, "state_test.marks", "state_test.bronze")[0] == {
        "WA": at(120),
        "WB": at(10),
        "WC": at(20),
        "WD": at(10),
    }
    spark.sql("DROP TABLE state_test.bronze")
    assert load_state(spark, "state_test.marks", "state_test.bronze") == ({}, {}, {})


def test_the_watermark_view_is_used_as_is_only_when_bronze_committed_nothing_after_it(spark):
    """connector_lib.spark.state: the bronze tail is skipped only when the Delta histories prove the view
    saw every bronze commit; a later bronze commit (a killed update) or a missing table means read it."""
    from connector_lib.spark import state

    spark.sql("CREATE DATABASE IF NOT EXISTS state_check")
    view, bronze_table = "state_check.view", "state_check.bronze"
    for table in (view, bronze_table):
        spark.sql(f"DROP TABLE IF EXISTS {table}")
    assert not state.view_is_current(spark, view, bronze_table)  # neither exists
    spark.sql(f"CREATE TABLE {bronze_table} (x INT) USING delta")
    spark.sql(f"INSERT INTO {bronze_table} VALUES (1)")
    assert not state.view_is_current(spark, view, bronze_table)  # no view yet
    spark.sql(f"CREATE TABLE {view} (x INT) USING delta")
    spark.sql(f"INSERT INTO {view} VALUES (1)")
    assert state.view_is_current(spark, view, bronze_table)
    spark.sql(f"INSERT INTO {bronze_table} VALUES (2)")  # a commit the view never saw
    assert not state.view_is_current(spark, view, bronze_table)
