"""Extraction planning: which time window of which tag one micro-batch reads, and how the work is cut
into Spark partitions.

Each tag keeps its own position (its watermark). A tag's first window in an update starts
``lookback`` before the watermark, to pick up values that arrived late; later windows continue exactly
where the previous one ended. No window is longer than ``max_window``, so a years-long backfill is read
in bounded chunks, one per micro-batch, and fresh tags are not held back behind it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .config import PIConfig
from .discovery import Tag
from .reread import RereadRequest


@dataclass(frozen=True)
class WindowTask:
    """Read ``[start, end]`` of one tag. ``prior_watermark`` is what bronze already covered."""

    web_id: str
    tag: str
    start: dt.datetime
    end: dt.datetime
    prior_watermark: dt.datetime | None = None
    point_type: str = ""
    digital_set: str = ""
    reread: str | None = None  # the id of the re-read request this window serves (docs/state.md)
    step: bool | None = None  # the tag's Step attribute, carried to the watermarks for gold
    #: with Stream Updates (connector_lib.follow): the tag's marker once this window is in bronze, kept
    #: with the watermarks so a restart resumes from it
    marker: str | None = None
    #: the values Stream Updates delivered for this window (``TimedValue`` objects): the window is written
    #: from them, not read with ``recorded``
    events: tuple | None = field(default=None, hash=False)

    @classmethod
    def of(
        cls,
        tag: Tag,
        start: dt.datetime,
        end: dt.datetime,
        prior_watermark: dt.datetime | None = None,
        reread: str | None = None,
    ) -> WindowTask:
        """The window ``[start, end]`` of a discovered tag, which carries the tag's type with it."""
        return cls(tag.web_id, tag.name, start, end, prior_watermark, tag.point_type, tag.digital_set, reread, tag.step)

    def window_columns(self) -> dict:
        """The bronze columns every row read for this window carries: the tag and the window."""
        return {
            "web_id": self.web_id,
            "tag": self.tag,
            "window_start": self.start,
            "window_end": self.end,
            "prior_watermark": self.prior_watermark,
            "point_type": self.point_type,
            "digital_set": self.digital_set,
        }

    def to_json(self) -> list:
        return [
            self.web_id,
            self.tag,
            self.start.isoformat(),
            self.end.isoformat(),
            self.prior_watermark.isoformat() if self.prior_watermark else None,
            self.point_type,
            self.digital_set,
            self.reread,
            self.step,
            self.marker,
            list(self.events) if self.events is not None else None,
        ]

    @classmethod
    def from_json(cls, data: list) -> WindowTask:
        """Also the eight fields an offset written before ``step`` was carried holds, and the nine of one
        written before Stream Updates."""
        wid, tag, start, end, prior, ptype, dset, reread, *rest = data
        rest += [None] * (3 - len(rest))
        return cls(
            wid,
            tag,
            dt.datetime.fromisoformat(start),
            dt.datetime.fromisoformat(end),
            dt.datetime.fromisoformat(prior) if prior else None,
            ptype,
            dset,
            reread,
            rest[0],
            rest[1],
            tuple(rest[2]) if rest[2] is not None else None,
        )


MAX_AUTO_PARTITIONS = 64
_EPS = dt.timedelta(microseconds=1)


def plan_windows(
    tags: Iterable[Tag],
    positions: Mapping[str, dt.datetime],
    watermarks: Mapping[str, dt.datetime],
    lookback_done: set[str],
    config: PIConfig,
    end: dt.datetime,
) -> list[WindowTask]:
    """Windows of one micro-batch ending at ``end``. ``positions`` is where each tag stands now;
    ``watermarks`` what bronze durably covered at pipeline start (for the late-data flag);
    ``lookback_done`` the tags whose lookback was already read in this update."""
    lookback = dt.timedelta(seconds=config.lookback_s)
    max_window = dt.timedelta(seconds=config.max_window_s)
    tasks = []
    for tag in tags:
        pos = positions[tag.web_id]
        if pos + _EPS > end:
            continue
        start = pos
        if tag.web_id in watermarks and tag.web_id not in lookback_done:
            start = pos - lookback
        tasks.append(WindowTask.of(tag, start, min(end, pos + max_window), watermarks.get(tag.web_id)))
    return tasks


def plan_rereads(
    tags: Iterable[Tag],
    requests: Iterable[RereadRequest],
    positions: Mapping[tuple[str, str], dt.datetime],
    watermarks: Mapping[str, dt.datetime],
    config: PIConfig,
    end: dt.datetime,
) -> list[WindowTask]:
    """Re-read windows of one micro-batch: per request and matching tag, the next ``max_window`` chunk
    from where its re-read stands (``positions``, keyed by request id and web id), never past the
    request's end or this update's ``end``."""
    max_window = dt.timedelta(seconds=config.max_window_s)
    tasks = []
    for request in requests:
        stop = min(request.end, end)
        for tag in tags:
            pos = positions.get((request.request_id, tag.web_id))
            if pos is None or pos + _EPS > stop:
                continue
            window_end = min(stop, pos + max_window)
            tasks.append(WindowTask.of(tag, pos, window_end, watermarks.get(tag.web_id), request.request_id))
    return tasks


def expected_values(task: WindowTask, densities: Mapping[str, float], default: float) -> float:
    """Values a window should hold: the tag's past density (values per second) times its length."""
    return densities.get(task.web_id, default) * max((task.end - task.start).total_seconds(), 1.0)


def partition_tasks(
    tasks: list[WindowTask], config: PIConfig, densities: Mapping[str, float] | None = None
) -> list[list[WindowTask]]:
    """Cut tasks into Spark partitions balanced by expected values, not by tag count, so one dense tag
    or a tag still backfilling does not make a straggler. Densities come from what earlier updates read
    (``pi_watermarks``); tags without history count as the median tag (or one value a minute).

    Each partition is a contiguous range of tags in WebID order (cut where its share of the expected
    values is reached): every bronze file a task writes then spans a narrow range of ``web_id``, and a
    query for one tag skips the files of the others by their statistics."""
    if not tasks:
        return []
    calls = math.ceil(len(tasks) / config.tags_per_request)
    n = config.partitions or min(calls, MAX_AUTO_PARTITIONS)
    n = max(1, min(n, len(tasks)))
    densities = densities or {}
    known = sorted(densities.values())
    default = known[len(known) // 2] if known else 1 / 60
    ordered = sorted(tasks, key=lambda t: (t.web_id, t.start))
    loads = [expected_values(t, densities, default) for t in ordered]
    remaining = sum(loads)  # expected values not yet in a partition
    parts: list[list[WindowTask]] = [[]]
    load_here = 0.0
    for task, load in zip(ordered, loads):
        still_to_open = n - len(parts)
        share = (load_here + remaining) / (still_to_open + 1)  # this partition's part of what is left
        if parts[-1] and still_to_open and load_here + load / 2 > share:
            parts.append([])
            load_here = 0.0
        parts[-1].append(task)
        load_here += load
        remaining -= load
    return [p for p in parts if p]
