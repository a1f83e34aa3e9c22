"""``make run``: the pipeline end to end on a laptop.

Starts the PI Web API simulator (unless a config file points at a real PI Web API), runs two triggered
updates of the real pipeline on open-source Spark Declarative Pipelines with Delta tables, and after each
prints rows per table, the watermark range, expectation counts and a reconciliation against the
simulator's ground truth: time series, and with the simulator's AF database the hierarchy and its event
frames.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import shutil
import sys
import time
import warnings
from pathlib import Path

from connector_lib.config import ConfigError, PIConfig, read_settings_file
from connector_lib.preflight import PreflightFailed, preflight

from .local_pipeline import REPO, LocalPipeline

TABLES = (
    "pi_recorded_bronze",
    "pi_timeseries_silver",
    "pi_hourly_gold",
    "pi_watermarks",
    "pi_extraction_log",
    "pi_quarantine",
)
AF_TABLES = ("pi_af_bronze", "pi_af_elements", "pi_af_attributes", "pi_tag_assets", "pi_hourly_assets_gold")
EF_TABLES = (
    "pi_event_frames_bronze",
    "pi_event_frames",
    "pi_event_frame_attributes",
    "pi_alarms",
    "pi_downtime_daily_gold",
    "pi_batches_daily_gold",
)


def _say(text: str = "") -> None:
    print(text, flush=True)


def summarize(spark, since: str) -> None:
    for tables in (TABLES, AF_TABLES, EF_TABLES):
        counts = {t: spark.read.table(t).count() for t in tables if spark.catalog.tableExists(t)}
        if counts:
            _say("  rows: " + ", ".join(f"{t}={n}" for t, n in counts.items()))
    w = spark.sql("""SELECT count(*) AS tags, min(watermark) AS lo, max(watermark) AS hi,
                            sum(CASE WHEN last_status = 'ok' THEN 0 ELSE 1 END) AS failing
                     FROM pi_watermarks""").first()
    _say(f"  watermarks: {w.tags} tags, from {w.lo} to {w.hi} UTC, {w.failing} failing")
    latest = spark.sql(f"""
        SELECT count(*) AS windows, min(window_start) AS lo, max(window_end) AS hi,
               count_if(status <> 'ok') AS failed
        FROM pi_extraction_log WHERE extracted_at >= TIMESTAMP '{since}'""").first()
    fresh = spark.sql(f"""
        SELECT count_if(timestamp <= prior_watermark) AS in_lookback,
               count_if(prior_watermark IS NULL OR timestamp > prior_watermark) AS new_values
        FROM pi_recorded_bronze WHERE record_kind = 'value' AND extracted_at >= TIMESTAMP '{since}'""").first()
    _say(
        f"  this update read {latest.windows} tag windows ({latest.lo} .. {latest.hi}), "
        f"{latest.failed} failed: {fresh.new_values} values after the previous watermarks, "
        f"{fresh.in_lookback} re-read inside the lookback (deduplicated in silver)"
    )
    if spark.catalog.tableExists("pi_tag_assets"):
        a = spark.sql("""SELECT count(DISTINCT tag) AS tags, count(DISTINCT element_path) AS elements,
                                count_if(web_id IS NULL) AS broken FROM pi_tag_assets""").first()
        _say(f"  AF: {a.tags} tags mapped to {a.elements} elements, {a.broken} references to missing points")
    if spark.catalog.tableExists("pi_event_frames"):
        by_template = spark.sql("""SELECT template, count(*) AS n, count_if(in_progress) AS open
                                   FROM pi_event_frames GROUP BY template ORDER BY template""").collect()
        alarms = spark.sql("SELECT count_if(NOT is_acknowledged) AS n FROM pi_alarms").first().n
        _say(
            "  event frames: "
            + ", ".join(f"{r.template} {r.n} ({r.open} in progress)" for r in by_template)
            + f"; {alarms} alarms not acknowledged"
        )


def progress(started: float):
    """Prints each flow as it completes or fails, with the seconds since the update started."""

    def show(_when, message: str) -> None:
        words = message.split()
        if message.startswith("Flow ") and len(words) > 2 and ("COMPLETED" in message or "FAILED" in message):
            flow = words[1].rsplit(".", 1)[-1]
            _say(f"  {time.time() - started:6.1f}s  {flow} {'done' if 'COMPLETED' in message else 'FAILED'}")

    return show


def expectation_summary() -> None:
    import expectations

    for row in expectations.report():
        _say(
            f"  expectation {row['table']}.{row['rule']} [{row['action']}]: "
            f"passed={row['passed']} failed={row['failed']}"
        )


def checked_settings(path: str) -> dict[str, str]:
    """The ``pi.*`` settings of a YAML file, checked before Spark starts (``ConfigError``: one line)."""
    configuration = read_settings_file(path)
    PIConfig.from_mapping(configuration)
    return configuration


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--config", help="YAML file of pi.* settings for a real PI Web API")
    parser.add_argument("--tags", type=int, default=200)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--window", default="*-2h", help="backfill start of new tags (default *-2h)")
    parser.add_argument("--pause", type=float, default=20.0, help="seconds between the two updates")
    parser.add_argument("--work-dir", default=str(REPO / ".work" / "run"))
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    server = archive = None
    if args.config:
        try:
            configuration = checked_settings(args.config)
        except ConfigError as exc:
            _say(f"configuration error: {exc}")
            return 2
    else:
        from pi_simulator import Archive, SimulatorServer

        archive = Archive(seed=args.seed, n_points=args.tags)
        server = SimulatorServer(archive).start()
        _say(f"PI Web API simulator at {server.url}: {args.tags} PI points, seed {args.seed}")
        configuration = {
            "pi.url": server.url,
            "pi.backfill_start": args.window,
            "pi.settle_lag": "5s",
            "pi.lookback": "10m",
            "pi.tags_per_request": "50",
            # the simulator's AF database: its hierarchy and a day of event frames
            "pi.af.databases": "Operations",
            "pi.ef.backfill_start": "*-1d",
        }

    try:
        for passed in preflight(PIConfig.from_mapping(configuration)):
            _say(f"preflight {passed.step}: {passed.found}")
    except PreflightFailed as exc:
        _say(str(exc))
        if server is not None:
            server.stop()
        return 2

    work = Path(args.work_dir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    spark_log = work / "spark.log"
    pipeline = LocalPipeline(work, configuration, spark_output=spark_log)
    _say(f"Spark's own output (dependency resolution, its log): {spark_log}")
    status = 0
    try:
        for update_no in (1, 2):
            if update_no == 2:
                _say(f"\nwaiting {args.pause:.0f}s for new PI data ...")
                time.sleep(args.pause)
            _say(f"\n== update {update_no}: triggered run on local Spark Declarative Pipelines (Delta) ==")
            started = time.time()
            since = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            result = pipeline.update(on_event=progress(started))
            if not result.ok:
                log = work / "update.log"
                log.write_text(f"update {update_no} FAILED:\n{result.error}\n")
                _say(
                    f"update {update_no} FAILED: {(str(result.error).strip().splitlines() or ['no error text'])[0]} (the whole error: {log})"
                )
                return 1
            _say(f"  completed in {time.time() - started:.1f}s")
            spark = pipeline.spark
            summarize(spark, since)
            expectation_summary()
            if archive is not None:
                from .reconcile import reconcile

                rec = reconcile(spark, archive)
                if rec.mismatched or rec.unexpected:
                    _say(
                        f"  reconcile detail: {rec.mismatched} rows differ from truth, "
                        f"{rec.unexpected} silver rows have no truth row"
                    )
                _say(rec.line())
                if rec.missing or rec.duplicated or rec.unexpected:
                    status = 1
                from .reconcile_af import reconcile_af, reconcile_event_frames
                from .reconcile_gold import reconcile_gold

                gold = reconcile_gold(spark, server.api)
                _say(gold.line())
                for tag, hour, mean, pi_mean, share, pi_share in gold.differing[:5]:
                    _say(
                        f"  gold differs: {tag} {hour:%Y-%m-%d %H:%M} mean {mean} (PI {pi_mean}), good share {share} (PI {pi_share})"
                    )
                status = status if gold.exact else 1

                model = server.api.assets.model
                for comparison in [
                    *reconcile_af(spark, model, server.api.clock()),
                    reconcile_event_frames(spark, model),
                ]:
                    _say(comparison.line())
                    status = status if comparison.exact else 1
    finally:
        pipeline.stop()
        if server is not None:
            server.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
