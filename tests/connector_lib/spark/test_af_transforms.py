"""chispa tests of AF history (SCD type 2 from complete snapshots) and the tag-to-asset mapping."""

import datetime as dt

from chispa import assert_df_equality

from connector_lib.af import AF_COLUMNS, af_row
from connector_lib.spark import af_transforms

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
SCHEMA = ", ".join(f"{n} {t}" for n, t in AF_COLUMNS)
DB = "\\\\AF\\DB"


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def element(snapshot, minute, eid, name, parent="\\\\AF\\DB\\Site"):
    return af_row(
        record_kind="element",
        snapshot_id=snapshot,
        database=DB,
        id=eid,
        web_id=f"W-{eid}-{name}",
        name=name,
        path=f"{parent}\\{name}",
        parent_path=parent,
        template="Pump",
        categories=["Equipment"],
        description="",
        extracted_at=at(minute),
    )


def attribute(snapshot, minute, aid, element_path, tag, point):
    return af_row(
        record_kind="attribute",
        snapshot_id=snapshot,
        database=DB,
        id=aid,
        web_id=f"WA-{aid}",
        name="Flow",
        path=f"{element_path}|Flow",
        element_path=element_path,
        value_type="Double",
        units="m3/h",
        data_reference="PI Point",
        config_string=f"\\\\PI\\{tag}",
        tag=tag,
        point_web_id=point,
        categories=[],
        extracted_at=at(minute),
    )


def done(snapshot, minute, status="ok"):
    return af_row(record_kind="snapshot", snapshot_id=snapshot, database=DB, status=status, extracted_at=at(minute))


ROWS = [
    element("s1", 0, "e1", "P-1"),
    element("s1", 0, "e2", "P-2"),
    done("s1", 0),
    element("s2", 10, "e1", "P-1"),
    done("s2", 10, "failed"),  # partial: e2 missing must not count
    element("s3", 20, "e1", "P-1A"),
    element("s3", 20, "e2", "P-2"),
    done("s3", 20),  # e1 renamed
    element("s4", 30, "e1", "P-1A"),
    done("s4", 30),  # e2 gone
    element("s5", 40, "e1", "P-1A"),
    element("s5", 40, "e2", "P-2"),
    done("s5", 40),  # e2 back: a new version
]


def test_element_history_closes_a_version_at_the_snapshot_that_saw_the_change(spark):
    bronze = spark.createDataFrame(ROWS, SCHEMA)
    got = af_transforms.history(bronze, "element").select("id", "name", "valid_from", "valid_to", "is_current")
    expected = spark.createDataFrame(
        [
            ("e1", "P-1", at(0), at(20), False),
            ("e1", "P-1A", at(20), None, True),
            ("e2", "P-2", at(0), at(30), False),
            ("e2", "P-2", at(40), None, True),
        ],
        "id string, name string, valid_from timestamp, valid_to timestamp, is_current boolean",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_tag_assets_maps_each_point_attribute_to_its_current_element(spark):
    path1, path1a = "\\\\AF\\DB\\Site\\P-1", "\\\\AF\\DB\\Site\\P-1A"
    rows = ROWS + [
        attribute("s1", 0, "a1", path1, "FT1", "WP1"),
        attribute("s3", 20, "a1", path1a, "FT2", "WP2"),
        attribute("s4", 30, "a1", path1a, "FT2", "WP2"),
        attribute("s5", 40, "a1", path1a, "FT2", "WP2"),
        attribute("s5", 40, "a2", path1a, "GONE", None),
    ]
    bronze = spark.createDataFrame(rows, SCHEMA)
    attributes = af_transforms.history(bronze, "attribute")
    history = attributes.where("id = 'a1'").select("tag", "valid_from", "valid_to").orderBy("valid_from").collect()
    assert [tuple(r) for r in history] == [
        ("FT1", at(0).replace(tzinfo=None), at(20).replace(tzinfo=None)),
        ("FT2", at(20).replace(tzinfo=None), None),
    ]
    mapping = af_transforms.tag_assets(af_transforms.history(bronze, "element"), attributes)
    got = mapping.select("tag", "web_id", "attribute_path", "element_id", "element_name", "element_template")
    expected = spark.createDataFrame(
        [
            ("FT2", "WP2", path1a + "|Flow", "e1", "P-1A", "Pump"),
            ("GONE", None, path1a + "|Flow", "e1", "P-1A", "Pump"),
        ],
        "tag string, web_id string, attribute_path string, element_id string, element_name string, "
        "element_template string",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
