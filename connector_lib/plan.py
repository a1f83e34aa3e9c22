"""Extraction planning: which time window of which tag one micro-batch reads, and how the work is cut
into Spark partitions.

Each tag keeps its own position (its watermark). A tag's first window in an update starts
``lookback`` before the watermark, to pick up values that arrived late; later windows continue exactly
where the previous one ended. No window is longer than ``max_window``, so a years-long backfill is read
in bounded chunks, one per micro-batch, and fresh tags are not held back behind it.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from typing import Iterable, Mapping

from .config import PIConfig
from .discovery import Tag
from .extract import WindowTask
from .reread import RereadRequest

MAX_AUTO_PARTITIONS = 64
_EPS = dt.timedelta(microseconds=1)


def plan_windows(tags: Iterable[Tag], positions: Mapping[str, dt.datetime], watermarks: Mapping[str, dt.datetime],
                 lookback_done: set[str], config: PIConfig, end: dt.datetime) -> list[WindowTask]:
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
        tasks.append(WindowTask(tag.web_id, tag.name, start, min(end, pos + max_window),
                                watermarks.get(tag.web_id), tag.point_type, tag.digital_set))
    return tasks


def plan_rereads(tags: Iterable[Tag], requests: Iterable[RereadRequest],
                 positions: Mapping[tuple[str, str], dt.datetime], watermarks: Mapping[str, dt.datetime],
                 config: PIConfig, end: dt.datetime) -> list[WindowTask]:
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
            tasks.append(WindowTask(tag.web_id, tag.name, pos, min(stop, pos + max_window),
                                    watermarks.get(tag.web_id), tag.point_type, tag.digital_set,
                                    reread=request.request_id))
    return tasks


def expected_values(task: WindowTask, densities: Mapping[str, float], default: float) -> float:
    """Values a window should hold: the tag's past density (values per second) times its length."""
    return densities.get(task.web_id, default) * max((task.end - task.start).total_seconds(), 1.0)


def partition_tasks(tasks: list[WindowTask], config: PIConfig,
                    densities: Mapping[str, float] | None = None) -> list[list[WindowTask]]:
    """Cut tasks into Spark partitions balanced by expected values, not by tag count, so one dense tag
    or a tag still backfilling does not make a straggler. Densities come from what earlier updates read
    (``pi_watermarks``); tags without history count as the median tag (or one value a minute).
    Greedy longest-first: each window goes to the partition with the fewest expected values so far."""
    if not tasks:
        return []
    calls = math.ceil(len(tasks) / config.tags_per_request)
    n = config.partitions or min(calls, MAX_AUTO_PARTITIONS)
    n = max(1, min(n, len(tasks)))
    densities = densities or {}
    known = sorted(densities.values())
    default = known[len(known) // 2] if known else 1 / 60
    weighted = sorted(((expected_values(t, densities, default), i, t) for i, t in enumerate(tasks)),
                      key=lambda x: (-x[0], x[1]))
    heap = [(0.0, k) for k in range(n)]
    parts: list[list[WindowTask]] = [[] for _ in range(n)]
    for load, _, task in weighted:
        total, k = heapq.heappop(heap)
        parts[k].append(task)
        heapq.heappush(heap, (total + load, k))
    return [p for p in parts if p]
