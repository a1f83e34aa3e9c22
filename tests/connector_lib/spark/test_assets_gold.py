"""The view of hourly gold with its assets (connector_lib.spark.assets_gold) over gold and the tag-to-asset
mapping as the merges leave them: created once both exist, in place of a table of the former layout, equal
to ``af_transforms.hourly_with_assets`` of the two, and current with every later merge without any step of
its own."""

from chispa import assert_df_equality

from connector_lib.spark import af_curation, af_transforms, curation
from connector_lib.spark.assets_gold import AssetsGold
from tests.conftest import AF_SCHEMA, attribute, bronze, done, element
from tests.connector_lib.spark.conftest import value_reads

SCHEMA_NAME = "assets_gold_test"


def test_the_view_joins_gold_with_the_mapping_as_both_are_merged(spark):
    spark.sql(f"DROP DATABASE IF EXISTS {SCHEMA_NAME} CASCADE")
    spark.sql(f"CREATE DATABASE {SCHEMA_NAME}")
    where = f"spark_catalog.{SCHEMA_NAME}"
    values, af = curation.Targets.in_schema(where), af_curation.AFTargets.in_schema(where)
    assets = AssetsGold.in_schema(where)
    assert (assets.gold, assets.tag_assets) == (values.gold, af.tag_assets)
    reads = value_reads()
    curation.apply_batch(bronze(spark, reads[0]), 0, values)
    spark.sql(f"CREATE TABLE {assets.view} (web_id string) USING delta")  # the former layout's table
    assets.ensure(spark)  # no mapping yet: nothing to join
    assert spark.catalog.getTable(assets.view).tableType != "VIEW"

    # an AF snapshot: tag A referenced by two attributes, tag B by one, a broken reference
    path = "\\\\AF\\DB\\Site\\P-1"
    snapshot = [
        element("s1", 0, "e1", "P-1"),
        attribute("s1", 0, "a1", path, "A", "WA"),
        attribute("s1", 0, "a2", path, "A", "WA"),
        attribute("s1", 0, "a3", path, "B", "WB"),
        attribute("s1", 0, "a4", path, "GONE", None),
        done("s1", 0),
    ]
    af_curation.apply_af_batch(spark.createDataFrame(snapshot, AF_SCHEMA), 0, af)
    assets.ensure(spark)
    assert spark.catalog.getTable(assets.view).tableType == "VIEW"
    for rows in reads[1:]:  # later merges: the view follows them
        curation.apply_batch(bronze(spark, rows), reads.index(rows), values)
    assets.ensure(spark)  # a lookup, nothing more
    assets.ensure(spark, replace=True)  # as after the values' micro-batch 0, which creates gold anew
    expected = af_transforms.hourly_with_assets(spark.read.table(values.gold), spark.read.table(af.tag_assets))
    got = spark.read.table(assets.view)
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True, ignore_column_order=True)
    gold = spark.read.table(values.gold)
    assert got.where("web_id = 'WA'").count() == 2 * gold.where("web_id = 'WA'").count() > 1
    assert got.where("web_id = 'WB'").count() == gold.where("web_id = 'WB'").count() > 1
