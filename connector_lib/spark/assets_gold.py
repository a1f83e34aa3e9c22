"""``pi_hourly_assets_gold``: hourly gold of the tags AF attributes reference, with their element and
attribute, as a view over ``pi_hourly_gold`` and ``pi_tag_assets``.

A table joining the two would be written again whole at every update (all of gold's history, for every
tag an attribute references) or kept by a merge that follows both the new hours and every re-mapped tag.
A view costs an update nothing and is never behind either table: gold is merged by each micro-batch of
values, the mapping rewritten at each AF snapshot, and a query of the view reads both as they are (the
mapping is small: the join broadcasts it). Both merges make sure the view exists (:meth:`AssetsGold.ensure`,
a catalog lookup once it does), whichever of them first finds both tables; the same query combines tag
shards (``shards.combine``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import SparkSession

from .state import qualified, quote_part

log = logging.getLogger(__name__)

VIEW, GOLD, TAG_ASSETS = "pi_hourly_assets_gold", "pi_hourly_gold", "pi_tag_assets"
#: the columns of the mapping the view adds to each hour of gold
ASSET_COLUMNS = ("element_path", "element_name", "element_template", "attribute_name", "attribute_path")


def query(gold: str, tag_assets: str, gold_columns: Sequence[str]) -> str:
    """The view's query: each hour of ``gold`` once for every attribute that references its tag (a
    broken PI Point reference, with a null ``web_id``, joins nothing)."""
    listed = ", ".join([f"g.{quote_part(c)}" for c in gold_columns] + [f"a.{quote_part(c)}" for c in ASSET_COLUMNS])
    return f"SELECT {listed} FROM {gold} g JOIN {tag_assets} a ON g.web_id = a.web_id"


@dataclass(frozen=True)
class AssetsGold:
    """The view and the two tables it reads, by qualified names."""

    view: str
    gold: str
    tag_assets: str

    @classmethod
    def in_schema(cls, schema: str) -> AssetsGold:
        return cls(qualified(schema, VIEW), qualified(schema, GOLD), qualified(schema, TAG_ASSETS))

    def ensure(self, spark: SparkSession, replace: bool = False) -> None:
        """Create the view once both tables exist, in place of the materialized view of the former layout
        (``replace``: again, as when gold was created anew, perhaps with other columns). A failure is
        logged, not raised: the data is in the two tables, and the next micro-batch tries again."""
        try:
            kind = spark.catalog.getTable(self.view).tableType if spark.catalog.tableExists(self.view) else None
            if (kind == "VIEW" and not replace) or not (
                spark.catalog.tableExists(self.gold) and spark.catalog.tableExists(self.tag_assets)
            ):
                return
            if kind == "MATERIALIZED_VIEW":  # Databricks, the former layout
                spark.sql(f"DROP MATERIALIZED VIEW IF EXISTS {self.view}")
            elif kind not in (None, "VIEW"):  # the former layout's table, locally
                spark.sql(f"DROP TABLE IF EXISTS {self.view}")
            columns = spark.read.table(self.gold).columns
            spark.sql(f"CREATE OR REPLACE VIEW {self.view} AS {query(self.gold, self.tag_assets, columns)}")
            log.info("created the view %s over %s and %s", self.view, self.gold, self.tag_assets)
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.warning(
                "cannot create the view %s yet (%s); the next micro-batch tries again",
                self.view,
                (str(exc).strip().splitlines() or [type(exc).__name__])[0],
            )
