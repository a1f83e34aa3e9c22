"""The ``pi`` PySpark Python Data Source: the only place the connector meets Spark's reader API.

The driver plans windows and cuts them into partitions; executors run the HTTP work (one client per
partition) and yield bronze rows. Offsets are ``{"round": n, "end": iso}``: the round counts the
micro-batches planned from a known start and the end is the upper time bound of that round; a micro-batch
planned without its start (Spark 4.0 and 4.1, see ``stream_reader``) has an offset of ``{"end": iso}``.
Per-tag positions live in the reader: they start from the watermarks read at pipeline start, or from
``pi.backfill_start`` when the stream starts from its initial offset (first run or full refresh, when
bronze is empty too). Re-read requests (``connector_lib.reread``) keep positions of their own, per request
and tag, planned beside the regular windows.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition

from ..bronze import SPARK_SCHEMA
from ..client import PIWebAPIClient
from ..config import PIConfig
from ..discovery import Tag, discover_tags
from ..extract import WindowTask, read_windows
from ..follow import Follower
from ..plan import partition_tasks, plan_rereads, plan_windows
from ..reread import RereadRequest
from ..timeutil import UTC, parse_time
from .arrow import record_batches
from .stream_reader import PlannedStreamReader

SCHEMA = SPARK_SCHEMA
log = logging.getLogger(__name__)


class PIPartition(InputPartition):
    """Tag windows of one Spark task and the task's share of the request-rate limit."""

    def __init__(self, tasks: list[WindowTask], rate_share: float = 0.0):
        super().__init__(json.dumps({"tasks": [t.to_json() for t in tasks], "rate": rate_share}))


def partitions(
    tasks: list[WindowTask], config: PIConfig, densities: dict[str, float] | None = None
) -> list[PIPartition]:
    """The Spark partitions of a micro-batch's windows, each with an equal share of the request rate."""
    parts = partition_tasks(tasks, config, densities)
    share = config.requests_per_second / len(parts) if parts else 0.0
    return [PIPartition(p, share) for p in parts]


def reader_options(
    config: PIConfig,
    watermarks: dict[str, dt.datetime] | None = None,
    densities: dict[str, float] | None = None,
    rereads: list[RereadRequest] | None = None,
    markers: dict[str, str] | None = None,
) -> dict[str, str]:
    """Options for ``spark.readStream.format("pi")``. Secrets travel under keys Spark redacts."""
    options = config.to_options()
    if markers:
        options["markers"] = json.dumps(markers, separators=(",", ":"))
    if watermarks is not None:
        options["watermarks"] = json.dumps({k: v.isoformat() for k, v in watermarks.items()}, separators=(",", ":"))
    if densities:
        options["densities"] = json.dumps({k: round(v, 6) for k, v in densities.items()}, separators=(",", ":"))
    if rereads:
        options["rereads"] = json.dumps([r.to_json() for r in rereads], separators=(",", ":"))
    return options


class PIDataSource(DataSource):
    @classmethod
    def name(cls) -> str:
        return "pi"

    def _config(self) -> PIConfig:
        return PIConfig.from_options(self.options)

    def schema(self) -> str:
        return SCHEMA

    def reader(self, schema):
        return PIBatchReader(self._config(), self.options.get("start", "*-1h"), self.options.get("end", "*"))

    def streamReader(self, schema):
        marks = {k: dt.datetime.fromisoformat(v) for k, v in json.loads(self.options.get("watermarks") or "{}").items()}
        rereads = [RereadRequest.from_json(r) for r in json.loads(self.options.get("rereads") or "[]")]
        return PIStreamReader(
            self._config(),
            marks,
            json.loads(self.options.get("densities") or "{}"),
            rereads,
            json.loads(self.options.get("state") or "{}"),
            json.loads(self.options.get("markers") or "{}"),
        )


def _read(config: PIConfig, partition: InputPartition):
    spec = json.loads(partition.value)
    client = PIWebAPIClient(config, requests_per_second=spec["rate"])
    try:
        tasks = [WindowTask.from_json(t) for t in spec["tasks"]]
        yield from record_batches(read_windows(client, config, tasks))
    finally:
        client.session.close()


class PIBatchReader(DataSourceReader):
    """Ad hoc reads: ``spark.read.format("pi").options(**reader_options(cfg)).option("start", "*-1h").load()``."""

    def __init__(self, config: PIConfig, start: str, end: str):
        self.config, self.start, self.end = config, start, end

    def partitions(self):
        now = dt.datetime.now(UTC)
        start, end = parse_time(self.start, now), parse_time(self.end, now)
        tags = discover_tags(PIWebAPIClient(self.config), self.config)
        tasks = [WindowTask.of(t, start, end) for t in tags]
        return partitions(tasks, self.config) or [PIPartition([])]

    def read(self, partition):
        yield from _read(self.config, partition)


def _offset_key(offset: dict) -> str:
    return json.dumps(offset, sort_keys=True, separators=(",", ":"))


class PIStreamReader(PlannedStreamReader):
    """Triggered updates (``availableNow``) fix their end time when they start, then read every tag up
    to it in as many micro-batches as the ``pi.max_window`` chunks need, and the pending re-read
    requests beside them. Where Spark reads an available-now query in one micro-batch (Spark 4.0 and
    4.1), an update reads one ``pi.max_window`` chunk per tag and a long backfill goes on at the next
    update."""

    def __init__(
        self,
        config: PIConfig,
        watermarks: dict[str, dt.datetime],
        densities: dict[str, float] | None = None,
        rereads: list[RereadRequest] | None = None,
        state: dict | None = None,
        markers: dict[str, str] | None = None,
    ):
        super().__init__(state)
        self.config = config
        self.markers = markers or {}
        self._client: PIWebAPIClient | None = None
        self.follower = Follower(config, {}, self._driver_client, lambda: dt.datetime.now(UTC))
        self._follow_before: dt.datetime | None = None
        self.watermarks = watermarks
        self.densities = densities or {}
        self.rereads = rereads or []
        self._reread_positions: dict[tuple[str, str], dt.datetime] = {}
        self._tags: list[Tag] | None = None
        self._positions: dict[str, dt.datetime] = {}
        self._active_marks: dict[str, dt.datetime] = {}
        self._lookback_done: set[str] = set()
        #: the windows of each planned micro-batch, by its end offset, until it is committed: Spark may ask
        #: for a batch's partitions more than once, and planning again would move the positions past it
        self._batches: dict[str, list[WindowTask]] = {}
        self._target: dt.datetime | None = None
        self._discovered_at: dt.datetime | None = None
        self._resumed = False

    def _now_bound(self) -> dt.datetime:
        bound = dt.datetime.now(UTC) - dt.timedelta(seconds=self.config.settle_lag_s)
        return min(bound, self._target) if self._target else bound

    def prepareForTriggerAvailableNow(self) -> None:
        self._target = self._now_bound()
        self._follow_before = dt.datetime.now(UTC)

    def _driver_client(self) -> PIWebAPIClient:
        """The client of the reader's own calls (Stream Updates registrations and retrieves), made once."""
        if self._client is None:
            self._client = PIWebAPIClient(self.config)
        return self._client

    def _start_state(self, start: dict) -> list[Tag]:
        """The tags this reader follows, discovered (and their positions set) on first use."""
        if self._tags is not None:
            return self._tags
        self.check_state(start)
        self._tags = tags = discover_tags(PIWebAPIClient(self.config), self.config)
        self._discovered_at = dt.datetime.now(UTC)
        backfill = parse_time(self.config.backfill_start, dt.datetime.now(UTC))
        # from the initial offset bronze is empty (first run or full refresh): old watermarks do not apply
        resumed = self._resumed = self.resumed(start)
        marks = self.watermarks if resumed else {}
        self._active_marks = {t.web_id: marks[t.web_id] for t in tags if t.web_id in marks}
        self._positions = {t.web_id: self._active_marks.get(t.web_id, backfill) for t in tags}
        # a tag resumes following Stream Updates from the marker its last committed window left
        self.follower.markers = {w: m for w, m in self.markers.items() if w in self._active_marks} if resumed else {}
        for request in self.rereads:  # from the initial offset, earlier re-reads are gone with bronze too
            covered = request.covered if resumed else {}
            for tag in tags:
                if request.matches(tag.name):
                    self._reread_positions[(request.request_id, tag.web_id)] = max(
                        covered.get(tag.web_id, request.start), request.start
                    )
        return tags

    def _discover_again(self, tags: list[Tag]) -> list[Tag]:
        """The tags as discovered again when ``pi.discovery_interval`` has passed: a new tag starts at its
        watermark if it had one at pipeline start, else at ``pi.backfill_start``; a tag no longer listed is
        not read (its rows stay)."""
        now = dt.datetime.now(UTC)
        if self._discovered_at is None or now - self._discovered_at < dt.timedelta(
            seconds=self.config.discovery_interval_s
        ):
            return tags
        self._discovered_at = now
        found = discover_tags(self._driver_client(), self.config)
        backfill = parse_time(self.config.backfill_start, now)
        known = {t.web_id for t in tags}
        for tag in found:
            if tag.web_id not in known and tag.web_id not in self._positions:
                mark = self.watermarks.get(tag.web_id) if self._resumed else None
                if mark is not None:
                    self._active_marks[tag.web_id] = mark
                self._positions[tag.web_id] = mark or backfill
        added, removed = len({t.web_id for t in found} - known), len(known - {t.web_id for t in found})
        if added or removed:
            log.info("tags discovered again: %d new, %d no longer listed", added, removed)
        self._tags = found
        return found

    def initialOffset(self) -> dict:
        return {"round": 0, "end": None}

    def _plan(self, start: dict, end: dt.datetime) -> list[WindowTask]:
        """The next windows up to ``end``; positions move on as soon as they are planned."""
        tags = self._start_state(start)
        if self._target is None:  # a long-running update looks for new and removed tags now and then
            tags = self._discover_again(tags)
        followed, lost = self.follower.follow(tags, self._positions, self._follow_before)
        for web_id in lost:  # read again from the watermark, its lookback included
            self._active_marks.setdefault(web_id, self._positions[web_id])
            self._lookback_done.discard(web_id)
        polled = [t for t in tags if not self.follower.following(t.web_id)]
        tasks = plan_windows(polled, self._positions, self._active_marks, self._lookback_done, self.config, end)
        tasks = followed + self.follower.register_caught_up(tasks, end)
        for task in tasks:
            self._positions[task.web_id] = task.end
            self._lookback_done.add(task.web_id)
        rereads = plan_rereads(tags, self.rereads, self._reread_positions, self._active_marks, self.config, end)
        for task in rereads:
            assert task.reread is not None  # a re-read window names its request
            self._reread_positions[(task.reread, task.web_id)] = task.end
        return tasks + rereads

    def latestOffset(self, start: dict | None = None, limit=None) -> dict:
        if start is None:  # Spark 4.0 and 4.1: the start is known only in partitions(), which plans
            return {"end": self._now_bound().isoformat()}
        tasks = self._plan(start, self._now_bound())
        if not tasks:
            return start
        end = {"round": int(start.get("round") or 0) + 1, "end": max(t.end for t in tasks).isoformat()}
        self._batches[_offset_key(end)] = tasks
        return end

    def partitions(self, start: dict, end: dict):
        if self.is_restart_probe(start, end):
            return []
        key = _offset_key(end)
        if key not in self._batches:  # planned without its start, or replaying a batch an earlier process planned
            self._batches[key] = self._plan(start, dt.datetime.fromisoformat(end["end"]))
        return partitions(self._batches[key], self.config, self.densities)

    def read(self, partition):
        yield from _read(self.config, partition)

    def commit(self, end: dict) -> None:
        """Forget the committed batch and, where offsets count rounds, every earlier one (the next batch
        may already be planned: Spark asks for the next latest offset before it commits the last batch)."""
        done = int(end.get("round") or 0)
        for key in [
            k for k in self._batches if k == _offset_key(end) or 0 < int(json.loads(k).get("round") or 0) <= done
        ]:
            del self._batches[key]
