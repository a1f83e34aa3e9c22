"""chispa tests of the event frame silver and gold transformations on a real local Spark."""

import datetime as dt

from chispa import assert_df_equality

from connector_lib.spark import ef_transforms
from tests.conftest import ef_at, ef_bronze, ef_value, frame

UTC = dt.UTC


def elements(spark):
    rows = [
        ("\\\\AF\\Ops", "G1", "E1", "P-001", "\\\\AF\\Ops\\Sydney\\P-001", "Pump", False),  # before a rename
        ("\\\\AF\\Ops", "G1", "E1b", "P-001A", "\\\\AF\\Ops\\Sydney\\P-001A", "Pump", True),
        ("\\\\AF\\Ops", "G2", "E2", "L-1", "\\\\AF\\Ops\\Sydney\\L-1", "Line", True),
    ]
    return spark.createDataFrame(
        rows, "database string, id string, web_id string, name string, path string, template string, is_current boolean"
    )


def test_the_current_row_of_a_frame_is_its_latest_read(spark):
    rows = [
        frame("a", 0, None, read_at=10, read="r1"),  # open at the first read
        frame(
            "a",
            0,
            30,
            read_at=40,
            read="r2",
            is_acknowledged=True,
            acknowledged_by="op",
            acknowledged_at=ef_at(5),
            can_be_acknowledged=True,
        ),  # closed and acknowledged at the second
        frame("b", 20, None, read_at=40, read="r2"),
        {"record_kind": "read", "read_id": "r2", "database": "\\\\AF\\Ops", "status": "ok", "extracted_at": ef_at(41)},
    ]
    got = ef_transforms.current_frames(ef_bronze(spark, rows)).orderBy("id").collect()
    assert [(r.id, r.in_progress, r.duration_s, r.read_id, r.is_acknowledged) for r in got] == [
        ("a", False, 1800.0, "r2", True),
        ("b", True, None, "r2", False),
    ]
    assert got[0].element_web_id == "E1"


def test_attribute_values_keep_numbers_strings_and_states_apart(spark):
    attributes = {
        "Quantity": ef_value(1250.5, "kg"),
        "Product": ef_value("PET-500"),
        "Reason": ef_value({"Name": "No Data", "Value": 248, "IsSystem": True}, good=False),
    }
    frames = ef_transforms.current_frames(ef_bronze(spark, [frame("a", 0, 30, 40, "Batch", attributes=attributes)]))
    got = ef_transforms.attribute_values(frames).select(
        "attribute", "value", "value_double", "is_state", "units", "good"
    )
    expected = spark.createDataFrame(
        [
            ("Product", "PET-500", None, False, None, True),
            ("Quantity", "1250.5", 1250.5, False, "kg", True),
            ("Reason", "No Data", None, True, None, False),
        ],
        "attribute string, value string, value_double double, is_state boolean, units string, good boolean",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_frames_resolve_an_element_webid_read_before_a_rename_to_the_current_path(spark):
    frames = ef_transforms.current_frames(
        ef_bronze(spark, [frame("a", 0, 30, 40, element="E1"), frame("b", 0, 30, 40, element="E9")])
    )
    got = {r.id: r for r in ef_transforms.with_elements(frames, elements(spark)).collect()}
    assert (got["a"].element_id, got["a"].element_name, got["a"].element_path) == (
        "G1",
        "P-001A",
        "\\\\AF\\Ops\\Sydney\\P-001A",
    )
    assert got["b"].element_id is None  # not in any snapshot: kept, without a path


def test_downtime_minutes_per_element_and_day_split_at_midnight_closed_frames_only(any_zone_spark):
    spark = any_zone_spark
    rows = [
        frame("a", 90, 150, 200),  # 23:30 -> 00:30: 30 minutes on each day
        frame("b", 0, 10, 200),  # 22:00 -> 22:10
        frame("c", 0, 20, 200, element="E2"),
        frame("d", 0, None, 200),  # in progress: not counted
        frame("e", 0, 45, 200, template="Batch"),
    ]
    frames = ef_transforms.with_elements(ef_transforms.current_frames(ef_bronze(spark, rows)), elements(spark))
    got = ef_transforms.downtime_daily(frames, "downtime").select("element_name", "day", "downtime_minutes", "frames")
    expected = spark.createDataFrame(
        [
            ("P-001A", dt.date(2026, 1, 5), 40.0, 2),
            ("P-001A", dt.date(2026, 1, 6), 30.0, 1),
            ("L-1", dt.date(2026, 1, 5), 20.0, 1),
        ],
        "element_name string, day date, downtime_minutes double, frames long",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_downtime_days_are_whole_utc_days_when_the_session_changes_to_summer_time(spark):
    """Europe/Berlin moves its clocks on 2026-03-29: that UTC day still ends at midnight UTC."""
    before = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "Europe/Berlin")
    try:
        start = dt.datetime(2026, 3, 29, 22, 30, tzinfo=UTC)
        rows = [frame("a", 0, 0, 200, start_time=start, end_time=start + dt.timedelta(hours=2))]
        frames = ef_transforms.with_elements(ef_transforms.current_frames(ef_bronze(spark, rows)), elements(spark))
        got = {r.day: r.downtime_minutes for r in ef_transforms.downtime_daily(frames, "Downtime").collect()}
    finally:
        spark.conf.set("spark.sql.session.timeZone", before)
    assert got == {dt.date(2026, 3, 29): 90.0, dt.date(2026, 3, 30): 30.0}


def test_batches_per_product_and_day_count_closed_batches_with_their_durations(any_zone_spark):
    spark = any_zone_spark
    rows = [
        frame(k, start, end, 200, "Batch", attributes={"Product": ef_value(p)})
        for k, start, end, p in (
            ("a", 0, 30, "PET-500"),
            ("b", 40, 100, "PET-500"),
            ("c", 0, 45, "CAN-330"),
            ("d", 100, None, "CAN-330"),
        )
    ]
    frames = ef_transforms.current_frames(ef_bronze(spark, rows))
    got = ef_transforms.batches_by_product(frames, "Batch", "Product").select(
        "product", "day", "batches", "total_minutes", "mean_minutes", "min_minutes", "max_minutes"
    )
    expected = spark.createDataFrame(
        [
            ("PET-500", dt.date(2026, 1, 5), 2, 90.0, 45.0, 30.0, 60.0),
            ("CAN-330", dt.date(2026, 1, 5), 1, 45.0, 45.0, 45.0, 45.0),
        ],
        "product string, day date, batches long, total_minutes double, mean_minutes double, min_minutes double, "
        "max_minutes double",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_alarms_say_how_long_they_took_to_be_acknowledged(spark):
    rows = [
        frame(
            "a",
            0,
            30,
            40,
            "Alarm",
            can_be_acknowledged=True,
            is_acknowledged=True,
            acknowledged_by="op",
            acknowledged_at=ef_at(4.5),
            severity="Major",
        ),
        frame("b", 0, 30, 40, "Downtime"),
    ]
    frames = ef_transforms.with_elements(ef_transforms.current_frames(ef_bronze(spark, rows)), elements(spark))
    got = ef_transforms.alarms(frames).collect()
    assert [(r.id, r.severity, r.seconds_to_acknowledge, r.duration_s, r.element_name) for r in got] == [
        ("a", "Major", 270.0, 1800.0, "P-001A")
    ]
