"""Event frames (batches, downtime, maintenance, alarms) of the AF databases, read incrementally by time.

A frame changes after it starts: it is *in progress* (the PI Web API shows the far-future end time
9999-12-31) until it closes, batch quantities are captured at the close, reasons are entered and alarms
acknowledged later still. So a read is not "the frames that started since last time". Each read searches
``searchMode=Overlapped`` from the previous read's end minus ``pi.ef.lookback`` up to the server's now:
a frame still open at the previous read overlaps every later range and is found again at each read until
it closes, and a frame closed, acknowledged or edited within the lookback is read again with its new
state. Silver keeps the latest state of each frame (keyed by its AF Id).

A read is one search per configured template (or one), paged with ``startIndex``/``maxCount`` in start
time order (frames starting during the read land at the end, so pages do not shift), deduplicated by Id;
the attribute values of each page's frames come from ``streamsets/{frame}/value`` sub-requests packed into
batch calls. Rows are yielded page by page; a read ends with one ``read`` record (ok or failed, the range
searched, the count). Only an ok read moves the next read's start; the frames of a failed read are kept
(they are true states) and read again next time. A frame the connector cannot parse goes to quarantine
with its JSON and the reason.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from itertools import chain, islice

from .af import Database
from .batch import get_all
from .bronze import row_builder
from .client import PIWebAPIClient
from .config import PIConfig
from .errors import PAYLOAD_LIMIT, PIWebAPIError
from .paging import paged
from .timeutil import parse_pi_timestamp, parse_time, to_pi

FRAME_FIELDS = (
    "WebId",
    "Id",
    "Name",
    "Description",
    "Path",
    "TemplateName",
    "CategoryNames",
    "StartTime",
    "EndTime",
    "Severity",
    "CanBeAcknowledged",
    "IsAcknowledged",
    "AcknowledgedBy",
    "AcknowledgedDate",
    "AreValuesCaptured",
    "RefElementWebIds",
)
#: frames whose attribute values one batch call reads (one ``streamsets/{frame}/value`` sub-request each)
FRAMES_PER_BATCH = 100
#: end times from this year on mean "no end yet" (AF writes 9999-12-31T23:59:59Z for a frame in progress)
OPEN_END_YEAR = 9999

#: (name, Spark type) of the event frame bronze rows: frame, read and quarantine records in one layout
EF_COLUMNS: tuple[tuple[str, str], ...] = (
    ("record_kind", "string"),  # event_frame | read | quarantine
    ("read_id", "string"),
    ("database", "string"),  # \\SERVER\Database
    ("id", "string"),  # the frame's AF Id (GUID)
    ("web_id", "string"),
    ("name", "string"),
    ("path", "string"),
    ("template", "string"),
    ("categories", "array<string>"),
    ("description", "string"),
    ("start_time", "timestamp"),
    ("end_time", "timestamp"),  # null while in progress
    ("in_progress", "boolean"),
    ("severity", "string"),
    ("can_be_acknowledged", "boolean"),
    ("is_acknowledged", "boolean"),
    ("acknowledged_by", "string"),
    ("acknowledged_at", "timestamp"),
    ("values_captured", "boolean"),
    ("element_web_ids", "array<string>"),  # referenced elements, the primary one first
    ("attributes", "map<string,string>"),  # attribute name -> its value object as the server answered (JSON)
    ("search_start", "timestamp"),  # read records: the range searched (the end is the read's planned time)
    ("search_end", "timestamp"),
    ("status", "string"),  # read records: ok | failed
    ("error", "string"),
    ("frame_count", "bigint"),
    ("raw", "string"),  # quarantine: the frame's JSON
    ("extracted_at", "timestamp"),
)
EF_COLUMN_NAMES = tuple(name for name, _ in EF_COLUMNS)
ef_row = row_builder(EF_COLUMN_NAMES)


def search_start(config: PIConfig, since: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """Where a read's search starts: the previous ok read's end minus the lookback, or on the first read
    ``pi.ef.backfill_start``."""
    if since is None:
        return parse_time(config.ef_backfill_start, now)
    return min(since - dt.timedelta(seconds=config.ef_lookback_s), now)


def _time(text: object, field: str) -> dt.datetime:
    if not isinstance(text, str):
        raise ValueError(f"{field} is not a timestamp: {text!r}")
    try:
        return parse_pi_timestamp(text)
    except ValueError:
        raise ValueError(f"{field} is not a timestamp: {text[:60]!r}") from None


def frame_columns(frame: dict) -> dict:
    """The bronze columns of one frame of a search answer; ``ValueError`` when it cannot be used."""
    if not isinstance(frame, dict):
        raise ValueError("the item is not a JSON object")
    if not frame.get("Id") or not frame.get("WebId"):
        raise ValueError("the frame has no Id or WebId")
    start = _time(frame.get("StartTime"), "StartTime")
    end_text = frame.get("EndTime")
    end = _time(end_text, "EndTime") if end_text is not None else None
    in_progress = end is None or end.year >= OPEN_END_YEAR
    acknowledged = bool(frame.get("IsAcknowledged"))
    ack_at = _time(frame.get("AcknowledgedDate"), "AcknowledgedDate") if acknowledged else None
    refs = frame.get("RefElementWebIds") or []
    if not isinstance(refs, list):
        raise ValueError("RefElementWebIds is not a list")
    return dict(
        id=str(frame["Id"]),
        web_id=frame["WebId"],
        name=frame.get("Name"),
        path=frame.get("Path"),
        template=frame.get("TemplateName") or None,
        categories=list(frame.get("CategoryNames") or []),
        description=frame.get("Description") or None,
        start_time=start,
        end_time=None if in_progress else end,
        in_progress=in_progress,
        severity=frame.get("Severity") or None,
        can_be_acknowledged=bool(frame.get("CanBeAcknowledged")),
        is_acknowledged=acknowledged,
        acknowledged_by=(frame.get("AcknowledgedBy") or None) if acknowledged else None,
        acknowledged_at=ack_at,
        values_captured=frame.get("AreValuesCaptured"),
        element_web_ids=[str(r) for r in refs],
    )


def _searches(config: PIConfig, start: dt.datetime) -> list[dict]:
    common = {
        "searchMode": "Overlapped",
        "startTime": to_pi(start),
        "endTime": "*",
        "sortField": "StartTime",
        "sortOrder": "Ascending",
    }
    return [{**common, **({"templateName": t} if t else {})} for t in config.ef_templates or (None,)]


def _chunks(items: Iterator[dict], size: int) -> Iterator[list[dict]]:
    while chunk := list(islice(items, size)):
        yield chunk


def read_event_frames(
    client: PIWebAPIClient,
    config: PIConfig,
    db: Database,
    since: dt.datetime | None,
    planned_at: dt.datetime,
    now=lambda: dt.datetime.now(dt.UTC),
) -> Iterator[tuple]:
    """The rows of one read of a database's event frames, ending with its ``read`` record. ``since``: the
    previous ok read's ``search_end``; ``planned_at``: this read's, recorded as its ``search_end``."""
    start = search_start(config, since, planned_at)
    read_id = f"{db.path}@{to_pi(planned_at)}"
    common = {"read_id": read_id, "database": db.path}
    seen: set[str] = set()
    count = 0
    try:
        items = chain.from_iterable(
            paged(client, db.event_frames_url, params, config.ef_page_size, FRAME_FIELDS)
            for params in _searches(config, start)
        )
        for chunk in _chunks(items, FRAMES_PER_BATCH):
            at = now()
            good: list[dict] = []
            for item in chunk:
                try:
                    columns = frame_columns(item)
                except (ValueError, TypeError) as exc:
                    yield ef_row(
                        record_kind="quarantine",
                        error=f"event frame: {exc}",
                        raw=json.dumps(item, ensure_ascii=False, default=str)[:PAYLOAD_LIMIT],
                        extracted_at=at,
                        **common,
                    )
                    continue
                if columns["id"] not in seen:  # several template searches, or a page that shifted
                    seen.add(columns["id"])
                    good.append(columns)
            for columns, attributes in zip(good, _attribute_values(client, config, good)):
                count += 1
                yield ef_row(record_kind="event_frame", attributes=attributes, extracted_at=at, **columns, **common)
        yield ef_row(
            record_kind="read",
            search_start=start,
            search_end=planned_at,
            status="ok",
            frame_count=count,
            extracted_at=now(),
            **common,
        )
    except PIWebAPIError as exc:
        yield ef_row(
            record_kind="read",
            search_start=start,
            search_end=planned_at,
            status="failed",
            error=str(exc),
            frame_count=count,
            extracted_at=now(),
            **common,
        )


def _attribute_values(client: PIWebAPIClient, config: PIConfig, frames: list[dict]) -> list[dict[str, str]]:
    """Each frame's attribute values (name -> the value object as JSON), one batch call for the chunk."""
    if not frames:
        return []
    resources = [f"streamsets/{f['web_id']}/value?selectedFields=Items.Name;Items.Value" for f in frames]
    answers = get_all(client, config, resources, lambda k: f"event frame {frames[k]['name']!r} attribute values")
    out = []
    for items in answers:
        out.append(
            {
                str(i.get("Name")): json.dumps(i.get("Value"), ensure_ascii=False)
                for i in items
                if isinstance(i, dict) and i.get("Name")
            }
        )
    return out
