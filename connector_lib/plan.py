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
from typing import Iterable, Mapping

from .config import PIConfig
from .discovery import Tag
from .extract import WindowTask

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


def partition_tasks(tasks: list[WindowTask], config: PIConfig) -> list[list[WindowTask]]:
    """Cut tasks into partitions of whole batch calls, spread round-robin so neighbours in name
    order (often the same plant and scan class) do not pile up in one partition."""
    if not tasks:
        return []
    calls = math.ceil(len(tasks) / config.tags_per_request)
    n = config.partitions or min(calls, MAX_AUTO_PARTITIONS)
    n = max(1, min(n, len(tasks)))
    parts: list[list[WindowTask]] = [[] for _ in range(n)]
    for i, task in enumerate(tasks):
        parts[i % n].append(task)
    return [p for p in parts if p]
