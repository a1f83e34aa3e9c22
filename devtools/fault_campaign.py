"""A seeded fault campaign: real pipeline updates against a simulator that fails in every way a PI Web API,
its proxies and its network fail, while its archive changes underneath (late arrivals out of time order,
edits, a point created and one deleted mid-run, a point the reading user may not see).

    .venv/bin/python -m devtools.fault_campaign --schedules 100 --kill   # the longer campaign
    .venv/bin/python -m devtools.fault_campaign --schedules 3 --first 40 # schedules 40, 41, 42
    .venv/bin/python -m devtools.fault_campaign --schedules 30 --per-run 3  # as make test runs them

Each schedule has its own simulator and its own pipeline (own tables): one or two *faulted* updates with
the schedule's fault plan (an update may fail; that is part of the test), then one *clean* update with no
faults and the simulator's clock frozen at an instant F. Then silver is reconciled with the ground truth
as of F over every covered window (each tag from its first completed window to its watermark): 0 missing,
0 duplicated, 0 unexpected, latest values; and bronze must hold every value up to every watermark. A
point whose security denies the user must be reported as failed in ``pi_extraction_log``; a deleted
point's silver rows must all be true values (it is not compared past its deletion: nobody can read it).
With ``--per-run K``, K schedules run their faulted updates one after the other on one pipeline (the
archive's changes are the first one's) before its clean update: ``tests/e2e/test_fault_campaign.py`` runs
the first 12 schedules that way, six per pipeline, in ``make test``. Every other group of six schedules
(6 to 11, 18 to 23, ...) reads with ``pi.read_mode: updates``: its server keeps Stream Updates registrations
for 5 to 30 s unused, so some markers expire between updates, and before some schedules it forgets every
registration, as a restart does. The kill schedule (``--kill``) SIGKILLs the process running an update and
reruns it.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from connector_lib.reread import covered_until
from pi_simulator import Archive, ArchiveChanges, FaultPlan, SimulatorServer
from pi_simulator.faults import HTTP_FAULTS, SUB_FAULTS, draw
from pi_simulator.truth import to_ticks

from .local_pipeline import REPO, LocalPipeline
from .reconcile import Reconciliation, reconcile

# HTTP fault kinds, rotated over the schedules so each is the only kind of some schedule and all are
# mixed in others
HTTP_ROTATION = (
    HTTP_FAULTS,
    ("500",),
    ("502", "503"),
    ("429",),
    ("slow",),
    ("reset",),
    ("truncated",),
    ("malformed",),
    ("webexception",),
    ("reset", "truncated", "500"),
)
SUB_ROTATION = (SUB_FAULTS, ("500",), ("503",), ("webexception",), ("value_errors",))
TAGS = 12
LOOKBACK_S = 60  # > largest arrival delay + edit delay below, so every late value is re-read
DENSITY = 0.1  # ten times the simulator's usual event rate, so late values and edits fall inside a short run


@dataclass(frozen=True)
class Schedule:
    number: int
    seed: int
    faults: FaultPlan
    faulted_updates: int
    buffered_share: float
    max_delay_s: float
    edit_share: float
    max_edit_delay_s: float
    create_after_s: float | None  # a point appears this long after the schedule starts
    delete_after_s: float | None  # a point disappears this long after the schedule starts
    denied: bool  # one point answers 403 to every read
    #: pi.read_mode: every other group of six schedules follows Stream Updates
    read_mode: str = "recorded"
    #: Stream Updates: how long the server keeps a registration unused (some expire between updates)
    updates_cache_s: float = 900.0
    #: Stream Updates: the server forgets every registration (a restart) before this schedule's updates
    forget_registrations: bool = False

    def describe(self, faults_only: bool = False) -> str:
        """``faults_only``: for a schedule that shares a pipeline with another whose archive and its changes
        are used (see :func:`group_lead`)."""
        f = self.faults
        parts = [
            f"first {f.fail_first} batch call(s) fail, then http {f.http_rate:.2f} {'+'.join(f.http_kinds)}",
            f"sub {f.sub_rate:.2f} {'+'.join(f.sub_kinds)}",
            f"{self.faulted_updates} faulted update(s)",
        ]
        if self.forget_registrations:
            parts.append("server restart forgets every Stream Updates registration")
        if faults_only:
            return f"schedule {self.number} (seed {self.seed}): " + ", ".join(parts) + ", on the same pipeline"
        parts += [
            f"late {self.buffered_share:.0%} of points up to {self.max_delay_s:.0f}s",
            f"edits {self.edit_share:.0%} up to {self.max_edit_delay_s:.0f}s",
        ]
        if self.create_after_s is not None:
            parts.append(f"point created at +{self.create_after_s:.0f}s")
        if self.delete_after_s is not None:
            parts.append(f"point deleted at +{self.delete_after_s:.0f}s")
        if self.denied:
            parts.append("one point denied (403)")
        if self.read_mode == "updates":
            parts.append(f"Stream Updates, registrations kept {self.updates_cache_s:.0f}s unused")
        return f"schedule {self.number} (seed {self.seed}): " + ", ".join(parts)


def schedule(number: int, campaign_seed: int = 0) -> Schedule:
    """The ``number``-th schedule of a campaign: every setting drawn from (campaign seed, number)."""
    seed = campaign_seed * 100_003 + number

    def u(name: str) -> float:
        return draw("schedule", seed, name)

    http_kinds = HTTP_ROTATION[number % len(HTTP_ROTATION)]
    sub_kinds = SUB_ROTATION[(number // 2) % len(SUB_ROTATION)]
    return Schedule(
        number=number,
        seed=seed,
        faults=FaultPlan(
            seed=seed,
            http_rate=0.05 + 0.25 * u("http"),
            http_kinds=http_kinds,
            sub_rate=0.25 * u("sub") if number % 3 else 0.0,
            sub_kinds=sub_kinds,
            retry_after_s=1,
            slow_s=2.5,
            fail_first=1 + int(3 * u("first")),
        ),
        faulted_updates=2 if number % 10 == 9 else 1,
        buffered_share=0.5 + 0.4 * u("buffered"),
        max_delay_s=5 + 15 * u("delay"),
        edit_share=0.1 + 0.2 * u("edits"),
        max_edit_delay_s=5 + 10 * u("edit_delay"),
        create_after_s=1 + 6 * u("create") if number % 2 == 0 else None,
        delete_after_s=1 + 10 * u("delete") if number % 4 in (1, 2) else None,
        denied=number % 3 == 1,
        read_mode="updates" if (number // 6) % 2 else "recorded",
        updates_cache_s=5 + 25 * u("cache"),
        forget_registrations=(number // 6) % 2 == 1 and number % 3 == 2,
    )


@dataclass
class Outcome:
    schedules: list[Schedule]
    updates: list[str] = field(default_factory=list)  # "ok" or the error of each update, the clean one last
    faults: dict[str, int] = field(default_factory=dict)
    reconciliation: Reconciliation = field(default_factory=Reconciliation)
    late_values: int = 0  # silver rows first read in a re-read of an already covered time
    edited_values: int = 0  # silver rows whose value changed between two reads
    followed_windows: int = 0  # completion records of windows read while following Stream Updates
    denied_reported: bool = True
    deleted_ok: bool = True
    deleted_unexplained: list = field(default_factory=list)  # silver keys of the deleted point not in truth
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.reconciliation.exact and self.denied_reported and self.deleted_ok and self.updates[-1] == "ok"

    def line(self) -> str:
        r = self.reconciliation
        faulted = ", ".join("ok" if u == "ok" else "failed" for u in self.updates[:-1])
        numbers = "+".join(str(s.number) for s in self.schedules)
        return (
            f"schedule {numbers}: {'PASS' if self.passed else 'FAIL'} in {self.seconds:.0f}s; "
            f"faulted updates {faulted}; faults injected {sum(self.faults.values())} {self.faults}; "
            f"values checked {r.truth} (late {self.late_values}, edited {self.edited_values}); "
            f"Stream Updates windows {self.followed_windows}; "
            f"missing {r.missing} duplicated {r.duplicated} unexpected {r.unexpected} "
            f"mismatched {r.mismatched} behind watermark {r.behind_watermark}"
            + ("" if self.denied_reported else "; denied point NOT reported")
            + ("" if self.deleted_ok else f"; deleted point has values not in truth {self.deleted_unexplained}")
        )


def pipeline_configuration(url: str, read_mode: str = "recorded") -> dict[str, str]:
    return {
        "pi.url": url,
        "pi.read_mode": read_mode,
        "pi.backfill_start": "*-20m",
        "pi.lookback": f"{LOOKBACK_S}s",
        "pi.settle_lag": "0s",
        "pi.tags_per_request": "3",
        "pi.page_size": "100",
        "pi.http.max_retries": "3",
        "pi.http.backoff": "0.05s",
        "pi.http.timeout": "2s",
        "pi.partitions": "2",
    }


def build_archive(s: Schedule, start: dt.datetime, tags: int = TAGS) -> Archive:
    names = [p.name for p in Archive(seed=s.seed, n_points=tags).points]
    created = (
        ((names[-1], to_ticks(start + dt.timedelta(seconds=s.create_after_s))),) if s.create_after_s is not None else ()
    )
    deleted = (
        ((names[-2], to_ticks(start + dt.timedelta(seconds=s.delete_after_s))),) if s.delete_after_s is not None else ()
    )
    return Archive(
        seed=s.seed,
        n_points=tags,
        interval_scale=DENSITY,
        changes=ArchiveChanges(
            seed=s.seed,
            buffered_share=s.buffered_share,
            max_delay_s=s.max_delay_s,
            edit_share=s.edit_share,
            max_edit_delay_s=s.max_edit_delay_s,
            created=created,
            deleted=deleted,
        ),
    )


def special_points(s: Schedule, archive: Archive) -> tuple[str | None, str | None]:
    """(the denied point, the deleted point) of a schedule."""
    names = [p.name for p in archive.points]
    return (names[0] if s.denied else None), (names[-2] if s.delete_after_s is not None else None)


def fault_plans(s: Schedule, archive: Archive) -> tuple[FaultPlan, FaultPlan]:
    """(the faulted updates' plan, the clean update's plan): the denied point stays denied in both."""
    denied, _ = special_points(s, archive)
    failing = frozenset({denied}) if denied else frozenset()
    return dataclasses.replace(s.faults, failing_points=failing), FaultPlan(failing_points=failing)


TABLES = ("pi_recorded_bronze", "pi_timeseries_silver", "pi_watermarks", "pi_extraction_log")


def check(
    spark, s: Schedule, archive: Archive, frozen: dt.datetime, outcome: Outcome, tables: dict[str, str] | None = None
) -> None:
    """Reconcile the pipeline's tables with the truth as of ``frozen`` (see the module doc). ``tables``
    maps the pipeline's table names to the names to read (default: the current database's tables)."""
    t = {name: name for name in TABLES} | (tables or {})
    denied, deleted = special_points(s, archive)
    exclude = {deleted} if deleted else set()
    outcome.reconciliation = reconcile(
        spark,
        archive,
        silver_table=t["pi_timeseries_silver"],
        watermark_table=t["pi_watermarks"],
        as_of=frozen,
        bronze_table=t["pi_recorded_bronze"],
        exclude_tags=exclude,
    )
    stats = spark.sql(f"""SELECT count_if(is_late) AS late FROM {t["pi_timeseries_silver"]}""").first()
    outcome.late_values = stats.late
    outcome.edited_values = (
        spark.sql(f"""
        SELECT count(*) AS n FROM (SELECT web_id, timestamp, sequence FROM {t["pi_recorded_bronze"]}
                                   WHERE record_kind = 'value' GROUP BY web_id, timestamp, sequence
                                   HAVING count(DISTINCT coalesce(CAST(value_double AS STRING), value_string,
                                                                  CAST(state_code AS STRING))) > 1)""")
        .first()
        .n
    )
    outcome.followed_windows = (
        spark.sql(f"""SELECT count(*) AS n FROM {t["pi_recorded_bronze"]}
                      WHERE record_kind = 'window' AND get_json_object(raw, '$.marker') IS NOT NULL""")
        .first()
        .n
    )
    if denied:
        rows = spark.sql(f"""SELECT error FROM {t["pi_extraction_log"]}
                             WHERE tag = '{denied}' AND status = 'failed'""").collect()
        outcome.denied_reported = bool(rows) and all("403" in (r.error or "") for r in rows)
    if deleted:
        deleted_at = dict(archive.changes.deleted)[deleted]
        from connector_lib.timeutil import epoch_micros, from_epoch_micros
        from pi_simulator import truth

        seen = spark.sql(f"""SELECT unix_micros(timestamp) AS ts, sequence, unix_micros(first_seen_at) AS seen_at
                             FROM {t["pi_timeseries_silver"]} WHERE tag = '{deleted}' AND value_type <> 'error'""").collect()
        if seen:
            # each value read of the deleted point is a true event as it was before the deletion
            # (the upper bound is one microsecond on: an event's 100 ns ticks may lie inside its last µs)
            lo, hi = from_epoch_micros(min(r.ts for r in seen)), from_epoch_micros(max(r.ts for r in seen) + 1)
            until = from_epoch_micros(deleted_at // 10)
            real = {
                (epoch_micros(t["timestamp"]), t["sequence"])
                for t in truth.recorded(archive, deleted, lo, hi, as_of=until)
            }
            outcome.deleted_unexplained = [
                {
                    "ts": r.ts,
                    "seq": r.sequence,
                    "read_at": r.seen_at,
                    "deleted_at": deleted_at // 10,
                    "frozen": epoch_micros(frozen),
                }
                for r in seen
                if (r.ts, r.sequence) not in real
            ][:3]
            outcome.deleted_ok = not outcome.deleted_unexplained


def group_lead(group: list[Schedule]) -> Schedule:
    """The schedule whose archive changes and special points a group of schedules uses."""
    return next((s for s in group if s.denied), group[0])


def run_schedules(group: list[Schedule], make_pipeline, tags: int = TAGS) -> Outcome:
    """Run schedules one after the other on one simulator and one pipeline, then the clean update and the
    check. Each schedule contributes its faulted update(s) with its own fault plan; the archive's changes
    and the special points are those of the group's first schedule with a denied point (else the first's),
    so groups of any size exercise the denied point. ``make_pipeline(configuration, name)`` returns a
    :class:`LocalPipeline` (tests share one Spark session)."""
    started = time.perf_counter()
    first = group[0]
    lead = group_lead(group)
    outcome = Outcome(list(group))
    archive = build_archive(lead, dt.datetime.now(dt.UTC), tags)
    _, clean = fault_plans(lead, archive)
    server = SimulatorServer(archive, faults=clean, updates_cache_s=lead.updates_cache_s).start()
    try:
        pipeline = make_pipeline(pipeline_configuration(server.url, lead.read_mode), f"campaign_{first.number}")
        for s in group:
            if s.forget_registrations:
                server.api.updates.forget_all()
            server.set_faults(dataclasses.replace(s.faults, failing_points=clean.failing_points))
            for _ in range(s.faulted_updates):
                result = pipeline.update()
                outcome.updates.append("ok" if result.ok else (result.error or "failed")[:300])
        outcome.faults = dict(server.api.faults.log.counts)
        server.set_faults(clean)
        frozen = dt.datetime.now(dt.UTC)
        server.api.clock = lambda: frozen
        result = pipeline.update()
        outcome.updates.append("ok" if result.ok else (result.error or "failed")[:300])
        if result.ok:
            check(pipeline.spark, lead, archive, frozen, outcome)
    finally:
        server.stop()
    outcome.seconds = time.perf_counter() - started
    return outcome


# ---- the kill schedule: an update in its own process, SIGKILLed half way, then rerun ------------------------


def _one_update(work: str, configuration: str) -> int:
    """Child process: one update of the pipeline stored under ``work``."""
    warnings.filterwarnings("ignore")
    pipeline = LocalPipeline(Path(work), json.loads(configuration), database="campaign_kill")
    result = pipeline.update()
    print("UPDATE", "ok" if result.ok else result.error, flush=True)
    pipeline.stop()
    return 0 if result.ok else 1


def _child(args: list[str], timeout: float | None = None, kill_when=None) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools.fault_campaign", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    if kill_when is not None:
        deadline = time.monotonic() + (timeout or 600)
        while proc.poll() is None and time.monotonic() < deadline:
            if kill_when():
                os.killpg(proc.pid, signal.SIGKILL)  # the whole process group: Python driver and its JVM
                break
            time.sleep(0.05)
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def run_kill_schedule(
    spark,
    number: int = 1,
    campaign_seed: int = 0,
    tags: int = TAGS,
    work: Path | None = None,
    read_mode: str = "recorded",
) -> dict:
    """A faulted update in a child process is SIGKILLed once its first micro-batch is committed to bronze
    (so bronze holds values whose watermarks never refreshed); the update is then rerun clean in a new
    process, and the tables it left are reconciled with the truth through ``spark`` (any local session:
    the tables are read as Delta paths). Returns the counts."""
    s = schedule(number, campaign_seed)
    s = dataclasses.replace(s, faulted_updates=1)
    work = Path(work or tempfile.mkdtemp(prefix="osipi-kill-"))
    start = dt.datetime.now(dt.UTC)
    archive = build_archive(s, start, tags)
    faulted, clean = fault_plans(s, archive)
    server = SimulatorServer(archive, faults=faulted, updates_cache_s=s.updates_cache_s).start()
    # one tag window per micro-batch chunk, so the update is still running after its first commit
    configuration = {**pipeline_configuration(server.url, read_mode), "pi.max_window": "4m"}
    bronze_log = work / "warehouse" / "campaign_kill.db" / "pi_recorded_bronze" / "_delta_log"

    def committed() -> bool:
        return bronze_log.is_dir() and any(
            p.name.endswith(".json") and not p.name.startswith("00000000000000000000") for p in bronze_log.iterdir()
        )

    try:
        code, out = _child(["--one-update", str(work), json.dumps(configuration)], timeout=600, kill_when=committed)
        killed = code == -signal.SIGKILL
        injected = dict(server.api.faults.log.counts)
        server.set_faults(clean)
        frozen = dt.datetime.now(dt.UTC)
        server.api.clock = lambda: frozen
        code2, out2 = _child(["--one-update", str(work), json.dumps(configuration)], timeout=600)
    finally:
        server.stop()
    result = resumed = None
    if code2 == 0:
        tables = {}
        for name in TABLES:
            view = f"kill_{number}_{name}"
            spark.read.format("delta").load(
                str(work / "warehouse" / "campaign_kill.db" / name)
            ).createOrReplaceTempView(view)
            tables[name] = view
        outcome = Outcome([s], updates=["ok"])
        check(spark, s, archive, frozen, outcome, tables)
        resumed = resume_points(spark, tables["pi_recorded_bronze"], frozen)
        result = {
            **dataclasses.asdict(outcome.reconciliation),
            "late": outcome.late_values,
            "edited": outcome.edited_values,
            "denied_reported": outcome.denied_reported,
            "deleted_ok": outcome.deleted_ok,
            "followed_windows": outcome.followed_windows,
        }
    return {
        "killed": killed,
        "first_exit": code,
        "rerun_ok": code2 == 0,
        "rerun_output": out2[-2000:],
        "check": result,
        "faults": injected,
        "resumed": resumed,
    }


def resume_points(spark, bronze_view: str, rerun_at: dt.datetime) -> dict:
    """Where the rerun started each tag, against what the killed update had committed: a tag whose
    chunks were committed before the kill must resume from them (less the lookback), not from where the
    killed update started. Returns the counts of tags committed and of tags resumed from their commit."""
    rows = spark.sql(f"""SELECT web_id, window_start, window_end, status, extracted_at FROM {bronze_view}
                         WHERE record_kind = 'window'
                           AND get_json_object(raw, '$.reread') IS NULL""").collect()
    before = rerun_at.replace(tzinfo=None)  # Spark returns UTC session times without a zone
    committed: dict[str, list] = {}
    first_rerun: dict[str, dt.datetime] = {}
    for r in rows:
        if r.extracted_at < before:
            if r.status == "ok":
                committed.setdefault(r.web_id, []).append((r.window_start, r.window_end))
        else:
            first_rerun[r.web_id] = min(first_rerun.get(r.web_id, r.window_start), r.window_start)
    lookback = dt.timedelta(seconds=LOOKBACK_S)
    reach = {w: covered_until(min(spans)[0], spans) for w, spans in committed.items()}
    return {
        "tags_committed": len(reach),
        "resumed_from_commit": sum(1 for w, end in reach.items() if first_rerun.get(w) == end - lookback),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.fault_campaign",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--schedules", type=int, default=100)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0, help="campaign seed")
    parser.add_argument(
        "--per-run",
        type=int,
        default=1,
        help="schedules run one after the other on one pipeline before its clean update (make test uses 3)",
    )
    parser.add_argument("--kill", action="store_true", help="also run the SIGKILL schedule")
    parser.add_argument(
        "--kill-read-mode",
        default="updates",
        choices=("recorded", "updates"),
        help="pi.read_mode of the SIGKILL schedule",
    )
    parser.add_argument("--one-update", nargs=2, metavar=("WORK", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one_update:
        return _one_update(*args.one_update)
    warnings.filterwarnings("ignore")
    work = Path(tempfile.mkdtemp(prefix="osipi-campaign-"))
    shared = {}

    def make_pipeline(configuration, name):
        pipeline = LocalPipeline(work / name, configuration, database=name)
        if "spark" in shared:
            pipeline._spark = shared["spark"]
        else:
            shared["spark"] = pipeline.spark
        return pipeline

    outcomes = []
    numbers = list(range(args.first, args.first + args.schedules))
    for i in range(0, len(numbers), args.per_run):
        group = [schedule(n, args.seed) for n in numbers[i : i + args.per_run]]
        for s in group:
            print(s.describe(faults_only=s is not group_lead(group)), flush=True)
        outcome = run_schedules(group, make_pipeline)
        outcomes.append(outcome)
        print("  " + outcome.line(), flush=True)
    kill = None
    if args.kill:
        if "spark" not in shared:
            shared["spark"] = LocalPipeline(work / "kill-check", {}).spark
        kill = run_kill_schedule(shared["spark"], campaign_seed=args.seed, read_mode=args.kill_read_mode)
    if "spark" in shared:
        shared["spark"].stop()
    totals = {
        "schedules": sum(len(o.schedules) for o in outcomes),
        "runs": len(outcomes),
        "runs_passed": sum(o.passed for o in outcomes),
        "faulted_updates": sum(len(o.updates) - 1 for o in outcomes),
        "faulted_updates_failed": sum(u != "ok" for o in outcomes for u in o.updates[:-1]),
        "faults_injected": sum(sum(o.faults.values()) for o in outcomes),
        "values_checked": sum(o.reconciliation.truth for o in outcomes),
        "late_values": sum(o.late_values for o in outcomes),
        "edited_values": sum(o.edited_values for o in outcomes),
        "missing": sum(o.reconciliation.missing for o in outcomes),
        "duplicated": sum(o.reconciliation.duplicated for o in outcomes),
    }
    kinds: dict[str, int] = {}
    for o in outcomes:
        for k, v in o.faults.items():
            kinds[k] = kinds.get(k, 0) + v
    print("CAMPAIGN " + json.dumps(totals))
    print("FAULTS BY KIND " + json.dumps(dict(sorted(kinds.items()))))
    if kill is not None:
        print("KILL " + json.dumps({k: v for k, v in kill.items() if not k.endswith("output")}))
    results = REPO / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"fault_campaign-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(
        json.dumps(
            {"totals": totals, "faults_by_kind": kinds, "kill": kill, "schedules": [o.line() for o in outcomes]},
            indent=1,
            default=str,
        )
    )
    print(f"written {path}")
    return (
        0
        if totals["runs_passed"] == totals["runs"] and (kill is None or (kill["check"] or {}).get("missing", 1) == 0)
        else 1
    )


if __name__ == "__main__":
    sys.exit(main())
