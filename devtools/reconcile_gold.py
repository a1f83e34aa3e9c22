"""Compare hourly gold with the simulator's own ``summary`` answer, hour by hour.

For each tag, the complete hours are those whose time-weighted mean is settled by what silver holds: they
start after the tag's first event in silver (the value at the hour's start comes from an event silver has)
and end before its last one (the line across the hour's end is known). For those hours the simulator is
asked, through its ``streams/{webId}/summary`` resource (``Average`` and ``PercentGood``, TimeWeighted, one
interval per hour), what PI would answer; gold's ``time_weighted_mean`` and ``time_weighted_good_share``
must equal it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from connector_lib.timeutil import epoch_micros, from_epoch_micros
from connector_lib.verify import NON_NUMERIC, agrees
from pi_simulator.api import PiWebApi
from pi_simulator.protocol import Request
from pi_simulator.render import format_ticks
from pi_simulator.truth import to_ticks

HOUR = dt.timedelta(hours=1)
#: gold keeps microseconds, the simulator 100 ns ticks; both sum the same values, so far closer than a
#: real server (connector_lib.verify.TOLERANCE)
TOLERANCE = 1e-9


@dataclass
class GoldReconciliation:
    compared: int = 0  # complete tag-hours asked of the simulator
    matched: int = 0
    differing: list[tuple] = field(default_factory=list)  # (tag, hour, gold mean, PI mean, gold share, PI share)
    missing: int = 0  # complete tag-hours without a gold row
    tags: int = 0
    by_point_type: dict[str, int] = field(default_factory=dict)  # compared tag-hours per PI point type

    def line(self) -> str:
        return (
            f"RECONCILE gold tag-hours={self.compared} matched={self.matched} "
            f"differing={len(self.differing)} missing={self.missing} tags={self.tags}"
        )

    @property
    def exact(self) -> bool:
        return not self.differing and not self.missing


def reconcile_gold(
    spark, api: PiWebApi, gold_table: str = "pi_hourly_gold", silver_table: str = "pi_timeseries_silver"
) -> GoldReconciliation:
    from pyspark.sql import functions as F

    events = spark.read.table(silver_table).selectExpr("web_id", "tag", "point_type", "unix_micros(timestamp) AS t")
    bounds = events.groupBy("web_id").agg(
        F.first("tag").alias("tag"),
        F.first("point_type", ignorenulls=True).alias("point_type"),
        F.min("t").alias("lo"),
        F.max("t").alias("hi"),
    )
    gold = {
        (r.web_id, r.h): (r.time_weighted_mean, r.time_weighted_good_share)
        for r in spark.read.table(gold_table)
        .selectExpr("web_id", "unix_micros(hour) AS h", "time_weighted_mean", "time_weighted_good_share")
        .collect()
    }
    result = GoldReconciliation()
    for row in bounds.collect():
        first = _next_hour(from_epoch_micros(row.lo))
        last = from_epoch_micros(row.hi).replace(minute=0, second=0, microsecond=0)
        if last <= first:
            continue
        result.tags += 1
        numeric = row.point_type not in NON_NUMERIC
        types = ["Average", "PercentGood"] if numeric else ["PercentGood"]
        answer = api.handle(
            Request(
                "GET",
                f"streams/{row.web_id}/summary",
                {
                    "starttime": [format_ticks(to_ticks(first))],
                    "endtime": [format_ticks(to_ticks(last))],
                    "summarytype": types,
                    "summaryduration": ["1h"],
                },
            )
        )
        if answer.status != 200:
            raise RuntimeError(f"summary of {row.tag}: {answer.status} {answer.content}")
        items = answer.content["Items"]
        hours = len(items) // len(types)
        for k in range(hours):
            average, percent = (items[k], items[hours + k]) if numeric else (None, items[k])
            hour = first + k * HOUR
            want_mean = average["Value"]["Value"] if average and average["Value"]["Good"] else None
            want_share = percent["Value"]["Value"] / 100
            result.compared += 1
            result.by_point_type[row.point_type] = result.by_point_type.get(row.point_type, 0) + 1
            key = (row.web_id, epoch_micros(hour))
            if key not in gold:
                result.missing += 1
                continue
            mean, share = gold[key]
            if agrees(mean, want_mean, TOLERANCE) and agrees(share, want_share, TOLERANCE):
                result.matched += 1
            else:
                result.differing.append((row.tag, hour, mean, want_mean, share, want_share))
    return result


def _next_hour(when: dt.datetime) -> dt.datetime:
    """The first hour boundary strictly after ``when``."""
    return when.replace(minute=0, second=0, microsecond=0) + HOUR
