"""Tag shards combined: one schema whose views show every shard's tables as one.

A site past one pipeline runs N ingestion pipelines (``pi.shard.count``), each in a schema of its own with
its own bronze, silver, watermarks and gold (a table has one writing pipeline, and each shard's merges
stay as cheap as a pipeline of its size). The shards own disjoint tags, so the union of their tables *is*
the combined table: no key appears in two shards, nothing is copied, and a query for one tag skips the
other shards' files by their statistics. Shard 0 alone reads the Asset Framework and event frames
(:class:`~connector_lib.config.PIConfig` refuses them elsewhere); their tables are shown from it, and the
hourly gold with assets is joined from the combined gold, since shard 0's own covers only its tags.

The views are created once, and again after the tables change columns (a new version of the code); they
read the shards' current tables at every query. ``python -m connector_lib.spark.shards --into main.osipi
--shards main.osipi_shard_0,main.osipi_shard_1`` (or the ``osipi-combine-shards`` console script) runs it.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from pyspark.sql import SparkSession

from ..config import ConfigError
from . import assets_gold
from .curation import GOLD_TABLE, SILVER_TABLE
from .reread import EXTRACTION_LOG
from .state import BRONZE_TABLE, WATERMARK_TABLE, quote_part

log = logging.getLogger(__name__)

#: tables every shard writes for its own tags: the combined view is their union
TAG_TABLES = (BRONZE_TABLE, EXTRACTION_LOG, "pi_quarantine", SILVER_TABLE, GOLD_TABLE, WATERMARK_TABLE)
#: tables of the Asset Framework and event frames, which only shard 0 reads
SHARED_TABLES = (
    "pi_af_bronze",
    "pi_af_elements",
    "pi_af_attributes",
    "pi_tag_assets",
    "pi_event_frames_bronze",
    "pi_event_frames",
    "pi_event_frame_attributes",
    "pi_alarms",
    "pi_downtime_daily_gold",
    "pi_batches_daily_gold",
)


class ShardError(RuntimeError):
    """The shards cannot be combined as they are; the message is one line saying what to do."""


def quote_name(dotted: str) -> str:
    """A catalog.schema(.table) name with each part quoted where needed."""
    return ".".join(quote_part(part.strip("`")) for part in dotted.split("."))


def combine(spark: SparkSession, into: str, shards: Sequence[str]) -> list[str]:
    """Create (or replace) in ``into`` one view per table of the shard schemas ``shards`` (shard 0
    first); returns the names of the views. Fails, naming the tags, if a tag was read by two shards."""
    if len(shards) < 1 or len(set(shards)) != len(shards):
        raise ConfigError(f"--shards: the shard schemas, each once, shard 0 first; got {list(shards)}")
    if into in shards:
        raise ConfigError(f"--into: {into} is a shard's schema; the combined views need a schema of their own")
    first = quote_name(shards[0])
    statements = {}
    for table in TAG_TABLES:
        sources = [f"{quote_name(shard)}.{quote_part(table)}" for shard in shards]
        missing = [s for s in sources if not spark.catalog.tableExists(s)]
        if missing:
            raise ShardError(f"{', '.join(missing)}: not found; run every shard's pipeline once before combining")
        columns = _same_columns(spark, sources)
        selected = ", ".join(quote_part(c) for c in columns)
        statements[table] = "\nUNION ALL\n".join(f"SELECT {selected} FROM {s}" for s in sources)
    _check_disjoint(spark, [f"{quote_name(shard)}.{quote_part(WATERMARK_TABLE)}" for shard in shards])
    for table in SHARED_TABLES:
        source = f"{first}.{quote_part(table)}"
        if spark.catalog.tableExists(source):
            statements[table] = f"SELECT * FROM {source}"
    if assets_gold.TAG_ASSETS in statements:  # the combined gold with shard 0's mapping
        gold = spark.table(f"{first}.{quote_part(GOLD_TABLE)}").columns
        statements[assets_gold.VIEW] = assets_gold.query(
            f"{quote_name(into)}.{quote_part(GOLD_TABLE)}", f"{first}.{quote_part(assets_gold.TAG_ASSETS)}", gold
        )
    if not spark.catalog.databaseExists(into):
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS {quote_name(into)}")
    views = []
    for table, query in statements.items():
        view = f"{quote_name(into)}.{quote_part(table)}"
        spark.sql(f"CREATE OR REPLACE VIEW {view} AS {query}")
        views.append(view)
    log.info("combined %d shards into %s: %d views", len(shards), into, len(views))
    return views


def _same_columns(spark: SparkSession, sources: list[str]) -> list[str]:
    columns = spark.table(sources[0]).columns
    for source in sources[1:]:
        if spark.table(source).columns != columns:
            raise ShardError(
                f"{source}: its columns differ from {sources[0]}'s; update every shard's pipeline "
                "with the same version of the code before combining"
            )
    return columns


def _check_disjoint(spark: SparkSession, watermarks: list[str]) -> None:
    """A tag in two shards' watermarks was read by both (the shard count differs between the pipelines,
    or it changed): its rows would show twice in the combined tables."""
    union = " UNION ALL ".join(f"SELECT web_id FROM {w}" for w in watermarks)
    twice = [
        r[0]
        for r in spark.sql(
            f"SELECT web_id FROM ({union}) GROUP BY web_id HAVING count(*) > 1 ORDER BY web_id LIMIT 5"
        ).collect()
    ]
    if twice:
        raise ShardError(
            f"tags read by more than one shard (web_id {', '.join(twice)}): every shard pipeline "
            "needs the same pi.shard.count, and changing it means a full refresh of every shard "
            "(docs/deploy.md, tag shards)"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="osipi-combine-shards", description=__doc__.split("\n\n")[0])
    parser.add_argument("--into", required=True, help="schema of the combined views, e.g. main.osipi")
    parser.add_argument("--shards", required=True, help="the shard schemas, comma-separated, shard 0 first")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    spark = SparkSession.builder.getOrCreate()
    for view in combine(spark, args.into, [s.strip() for s in args.shards.split(",") if s.strip()]):
        print(view)


if __name__ == "__main__":
    main()
