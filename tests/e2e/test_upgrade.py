"""A deployment made with the former table layout moves to the current one in place, without reading PI
again: the former code (silver, gold and the watermarks as materialized views recomputed from bronze),
taken from its git commit, runs one update on a storage directory; the current code then runs on the same
storage. Bronze and its stream are kept, the merged tables are rebuilt from bronze at the new flow's first
micro-batch, every tag resumes from its watermark, and silver equals the simulator's ground truth.

Each side runs in a process of its own (its own code on the Python path, its own Spark session on the
directory's catalog)."""

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from pi_simulator import Archive, SimulatorServer

REPO = Path(__file__).resolve().parents[2]
#: the last commit with silver, gold and the watermarks as materialized views
FORMER_LAYOUT = "ff9da346fe47113db79ad1d2b8f43ab2ebed2d72"
SEED, TAGS = 11, 12
REBUILT_LOGS = ("pi_extraction_log", "pi_quarantine")

RUN = r"""
import json, sys
from devtools.local_pipeline import LocalPipeline

work, configuration, check = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "check"
pipeline = LocalPipeline(work, configuration, database="plant")
out = {"ok": True, "error": None}
for selection in json.loads(sys.argv[6]):
    result = pipeline.update(full_refresh=selection) if selection else pipeline.update()
    out = {"ok": result.ok, "error": result.error}
    if not result.ok:
        break
if out["ok"] and check:
    from devtools.reconcile import reconcile
    from pi_simulator import Archive

    spark = pipeline.spark
    rec = reconcile(spark, Archive(seed=int(sys.argv[4]), n_points=int(sys.argv[5])))
    out["reconciled"] = [rec.tags, rec.truth, rec.silver, rec.missing, rec.duplicated, rec.unexpected,
                         rec.mismatched]
    props = {r.key: r.value for r in spark.sql("SHOW TBLPROPERTIES pi_timeseries_silver").collect()}
    out["layout"] = props.get("osipi.layout")
    log = spark.read.table("pi_extraction_log")
    out["log_rows"] = log.count()
    out["log_distinct"] = log.select("web_id", "window_start", "window_end", "extracted_at").distinct().count()
    out["bronze_windows"] = spark.sql("SELECT count(*) AS n FROM pi_recorded_bronze WHERE record_kind = 'window'").first().n
    out["fresh_reads"] = spark.sql("SELECT count(*) AS n FROM pi_recorded_bronze WHERE record_kind = 'window' "
                                   "AND prior_watermark IS NULL").first().n
    out["ahead"] = spark.sql('''SELECT count(*) AS n FROM pi_watermarks w JOIN
        (SELECT web_id, max(window_end) AS e FROM pi_recorded_bronze WHERE record_kind = 'window' AND status = 'ok'
         GROUP BY web_id) b USING (web_id) WHERE w.watermark > b.e''').first().n
    out["gold_rows"] = spark.read.table("pi_hourly_gold").count()
pipeline.stop()
print("RESULT " + json.dumps(out))
"""


def former_code(into: Path) -> Path:
    """The tree of the former layout's commit, from this clone's history."""
    try:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", "--format=tar", FORMER_LAYOUT], capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"the upgrade test needs the repository's history (commit {FORMER_LAYOUT[:10]}): {exc}")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def run(code: Path, work: Path, configuration: dict, check: bool, updates: list[list[str]]) -> dict:
    """``updates``: one update per item, each with a full refresh of the datasets it names (or none)."""
    env = {**os.environ, "PYTHONPATH": str(code), "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            RUN,
            str(work),
            json.dumps(configuration),
            "check" if check else "run",
            str(SEED),
            str(TAGS),
            json.dumps(updates),
        ],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line is not None, f"no result (exit {done.returncode}): {done.stderr[-3000:]}"
    return {**json.loads(line.removeprefix("RESULT ")), "log": done.stderr}


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory):
    former = former_code(tmp_path_factory.mktemp("former"))
    work = tmp_path_factory.mktemp("upgrade")
    with SimulatorServer(Archive(seed=SEED, n_points=TAGS)) as server:
        configuration = {
            "pi.url": server.url,
            "pi.backfill_start": "*-2h",
            "pi.settle_lag": "2s",
            "pi.lookback": "5m",
            "pi.partitions": "2",
        }
        before = run(former, work, configuration, check=False, updates=[[]])
        assert before["ok"], before["error"]
        # docs/deploy.md, upgrading: the two logs, streaming tables now, are rebuilt from bronze once;
        # then updates run as usual, the first of them rebuilding the merged tables
        return run(REPO, work, configuration, check=True, updates=[list(REBUILT_LOGS), []])


def test_the_current_code_updates_a_former_deployment_in_place(upgraded):
    assert upgraded["ok"], upgraded["error"]
    tags, truth, silver, *errors = upgraded["reconciled"]
    assert tags == TAGS and truth > 100
    assert errors == [0, 0, 0, 0] and silver == truth
    assert upgraded["layout"] == "2"
    assert upgraded["gold_rows"] > 0


def test_the_first_update_on_the_former_layout_says_what_to_do(upgraded):
    assert "has the former table layout" in upgraded["log"]
    assert "full refresh of pi_extraction_log and pi_quarantine" in upgraded["log"]


def test_the_upgrade_reads_only_what_followed_the_former_update(upgraded):
    # the former update read each tag once from the backfill start; the current one resumes every tag
    # from its watermark (a prior watermark on every window it read)
    assert upgraded["fresh_reads"] == TAGS
    assert upgraded["bronze_windows"] >= 2 * TAGS
    assert upgraded["ahead"] == 0


def test_the_logs_rebuilt_from_bronze_hold_each_read_once(upgraded):
    assert upgraded["log_rows"] == upgraded["log_distinct"] == upgraded["bronze_windows"]
