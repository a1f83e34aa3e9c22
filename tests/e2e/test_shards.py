"""Tag shards: two pipelines share out the simulator's tags by PI point ID, each in its own schema with
its own bronze, silver, watermarks and gold, and the combined views (``connector_lib.spark.shards``)
show them as one. The combined silver equals the simulator's ground truth after an incremental update,
every tag is read by exactly one shard, and combining shards that read the same tags is refused."""

import time

import pytest

from connector_lib.config import ConfigError
from connector_lib.spark import af_transforms
from connector_lib.spark.shards import TAG_TABLES, ShardError, combine
from devtools.reconcile import reconcile
from pi_simulator import Archive, SimulatorServer

TAGS, SHARDS = 14, ("plant_shard_0", "plant_shard_1")


@pytest.fixture(scope="module")
def sharded(local_pipeline_factory):
    archive = Archive(seed=23, n_points=TAGS)
    with SimulatorServer(archive) as server:
        shards = [
            local_pipeline_factory(
                {
                    "pi.url": server.url,
                    "pi.backfill_start": "*-90m",
                    "pi.lookback": "5m",
                    "pi.settle_lag": "2s",
                    "pi.partitions": "2",
                    "pi.shard.count": str(len(SHARDS)),
                    "pi.shard.index": str(index),
                },
                name,
            )
            for index, name in enumerate(SHARDS)
        ]
        for round_ in range(2):  # a backfill, then an incremental update of each shard
            if round_:
                time.sleep(3)
            for shard in shards:
                result = shard.update()
                assert result.ok, result.error
        spark = shards[0].spark
        views = combine(spark, "plant", list(SHARDS))
        yield {"archive": archive, "spark": spark, "views": views}


def test_the_combined_silver_equals_the_ground_truth(sharded):
    rec = reconcile(
        sharded["spark"],
        sharded["archive"],
        silver_table="plant.pi_timeseries_silver",
        watermark_table="plant.pi_watermarks",
        bronze_table="plant.pi_recorded_bronze",
    )
    assert rec.tags == TAGS and rec.truth > 100
    assert rec.exact and rec.silver == rec.truth, rec


def test_every_tag_is_read_by_exactly_one_shard(sharded):
    spark, archive = sharded["spark"], sharded["archive"]
    owned = [{r.tag for r in spark.read.table(f"{shard}.pi_watermarks").collect()} for shard in SHARDS]
    assert all(owned) and not owned[0] & owned[1]
    assert owned[0] | owned[1] == {p.name for p in archive.points}
    ids = {p.name: p.point_id for p in archive.points}
    assert all(ids[tag] % len(SHARDS) == index for index, tags in enumerate(owned) for tag in tags)
    read = [
        {r.tag for r in spark.sql(f"SELECT DISTINCT tag FROM {shard}.pi_recorded_bronze").collect()} for shard in SHARDS
    ]
    assert read == owned  # no shard read (and stored) another's tags


def test_the_combined_tables_hold_every_shard_row_once(sharded):
    spark = sharded["spark"]
    assert {v.rsplit(".", 1)[1] for v in sharded["views"]} == set(TAG_TABLES)  # no AF: no shared tables
    for table in TAG_TABLES:
        shard_rows = sum(spark.read.table(f"{shard}.{table}").count() for shard in SHARDS)
        assert spark.read.table(f"plant.{table}").count() == shard_rows, table
    gold_keys = spark.sql(
        "SELECT web_id, hour, count(*) AS n FROM plant.pi_hourly_gold GROUP BY web_id, hour HAVING n > 1"
    )
    assert gold_keys.count() == 0


def test_hourly_gold_with_assets_joins_the_combined_gold(sharded):
    # shard 0 holds the AF tables; its tag-to-asset mapping names tags of both shards
    spark = sharded["spark"]
    tags = spark.sql("SELECT web_id, tag FROM plant.pi_watermarks ORDER BY tag").collect()
    spark.createDataFrame(
        [
            (
                t.web_id,
                f"\\\\Plant\\Unit {i % 2}",
                f"Unit {i % 2}",
                "Unit",
                t.tag.split(".")[-1],
                f"\\\\Plant\\Unit {i % 2}|{t.tag}",
            )
            for i, t in enumerate(tags[:6])
        ],
        "web_id string, element_path string, element_name string, element_template string, "
        "attribute_name string, attribute_path string",
    ).write.format("delta").mode("overwrite").saveAsTable(f"{SHARDS[0]}.pi_tag_assets")
    try:
        views = combine(spark, "plant", list(SHARDS))
        assert "plant.pi_tag_assets" in views and "plant.pi_hourly_assets_gold" in views
        expected = af_transforms.hourly_with_assets(
            spark.read.table("plant.pi_hourly_gold"), spark.read.table(f"{SHARDS[0]}.pi_tag_assets")
        )
        combined = spark.read.table("plant.pi_hourly_assets_gold")
        assert combined.columns == expected.columns
        assert sorted(combined.collect()) == sorted(expected.collect())
        assert combined.select("web_id").distinct().count() == 6
    finally:
        spark.sql(f"DROP TABLE IF EXISTS {SHARDS[0]}.pi_tag_assets")
        spark.sql("DROP VIEW IF EXISTS plant.pi_tag_assets")
        spark.sql("DROP VIEW IF EXISTS plant.pi_hourly_assets_gold")


def test_shards_that_read_the_same_tags_are_not_combined(sharded):
    spark = sharded["spark"]
    # shard 0's tables again under another schema: a shard count changed without a full refresh
    spark.sql("CREATE DATABASE IF NOT EXISTS plant_again")
    for table in TAG_TABLES:
        spark.sql(f"CREATE OR REPLACE TABLE plant_again.{table} USING delta AS SELECT * FROM {SHARDS[0]}.{table}")
    with pytest.raises(
        ShardError,
        match=r"^tags read by more than one shard \(web_id .+\): every shard pipeline "
        r"needs the same pi.shard.count",
    ):
        combine(spark, "plant_twice", [SHARDS[0], "plant_again"])
    with pytest.raises(ShardError, match=r"plant_nowhere.pi_recorded_bronze.*not found; run every shard's pipeline"):
        combine(spark, "plant_twice", [SHARDS[0], "plant_nowhere"])
    with pytest.raises(ConfigError, match=r"^--into: plant_shard_0 is a shard's schema"):
        combine(spark, SHARDS[0], list(SHARDS))
