"""chispa tests of AF history (SCD type 2 from complete snapshots) and the tag-to-asset mapping."""

from chispa import assert_df_equality

from connector_lib.spark import af_transforms
from tests.conftest import AF_ATTRIBUTES, AF_ROWS, AF_SCHEMA, PATH1A, at


def test_element_history_closes_a_version_at_the_snapshot_that_saw_the_change(spark):
    bronze = spark.createDataFrame(AF_ROWS, AF_SCHEMA)
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
    rows = AF_ROWS + AF_ATTRIBUTES
    bronze = spark.createDataFrame(rows, AF_SCHEMA)
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
            ("FT2", "WP2", PATH1A + "|Flow", "e1", "P-1A", "Pump"),
            ("GONE", None, PATH1A + "|Flow", "e1", "P-1A", "Pump"),
        ],
        "tag string, web_id string, attribute_path string, element_id string, element_name string, "
        "element_template string",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
