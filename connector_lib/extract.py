"""Read the recorded values of many tag windows through the batch controller, page by page, exactly.

One call carries up to ``tags_per_request`` sub-requests ``streams/{webId}/recorded``. The server cuts a
window at ``maxCount`` without saying so, so a full page means "there may be more": the values at the
page's last timestamp are held back and the tag's next page starts *at* that timestamp (``Inside`` is
inclusive), which returns them again together with any further values sharing it. Several values on one
timestamp therefore never split across pages, and nothing is read twice. A page whose values all share
one timestamp cannot be cut this way; its ``maxCount`` is doubled (up to the server's item cap) instead.

Each tag's window ends with one completion record (``record_kind = 'window'``) that says whether the
window was read completely; watermarks are derived only from those records (see docs/state.md). The time
paging is :class:`connector_lib.paging.TimePager`; sub-answers are checked and retried by the rule of
:mod:`connector_lib.batch`, a window at a time, so one failing tag does not hold the others back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa

from .batch import get_body, sub_content
from .bronze import BRONZE_COLUMNS, COLUMN_NAMES
from .bronze import row as _row
from .client import PIWebAPIClient
from .config import PIConfig
from .errors import PAYLOAD_LIMIT, PIWebAPIError, backoff, should_retry
from .pages import PageOf, decode_page, value_batch
from .paging import PagingStuck, TimePager
from .plan import WindowTask
from .timeutil import UTC, epoch_micros, parse_pi_timestamp, to_pi
from .values import VALUE_FIELDS, MalformedValue, normalise

__all__ = ["BRONZE_COLUMNS", "read_windows", "iter_rows"]

# No selectedFields on recorded reads: a TimedValue carries only the fields we keep, and filtering costs
# the server time per value (measured 5x on the simulator, see docs/performance.md).


class WindowRead:
    """Where the read of one tag window stands: its time paging, the values read, the attempts of the page
    in flight and, once it is done, its error if it failed."""

    def __init__(self, task: WindowTask, max_items: int):
        self.task = task
        self.pager = TimePager(to_pi(task.start), max_items)
        self.count = 0
        self.last_micros: int | None = None  # last value's timestamp (µs) and sequence, across pages
        self.seq = 0
        self.attempts = 0
        self.error: str | None = None
        self.done = False


#: the longest wait between two rounds of sub-requests sent again (a round waits for its most-tried one)
RETRY_ROUND_MAX_S = 30.0


def read_windows(
    client: PIWebAPIClient,
    config: PIConfig,
    tasks: list[WindowTask],
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(UTC),
) -> Iterator[tuple | pa.RecordBatch]:
    """Yield bronze rows (values, quarantine records, one completion record per task): the values of
    plain pages as one Arrow record batch per batch-controller answer, every other row as a tuple.

    Up to ``pi.max_concurrent_requests`` batch calls are in flight at once; answers are processed in
    the order the calls were made, so at most that many answers are held in memory."""
    for task in tasks:
        if task.events is not None:
            yield from delivered_window(task, now())
    active = [WindowRead(t, config.max_items_per_call) for t in tasks if t.events is None]
    with ThreadPoolExecutor(max_workers=config.max_concurrent_requests, thread_name_prefix="pi-batch") as pool:
        while active:
            groups = [active[i : i + config.tags_per_request] for i in range(0, len(active), config.tags_per_request)]
            in_flight: deque = deque()
            for group in groups:
                size = max_count(config, len(group))
                for r in group:
                    r.pager.size(size)
                in_flight.append((group, pool.submit(_call, client, group)))
                if len(in_flight) >= config.max_concurrent_requests:
                    yield from _answer(config, *_done(in_flight.popleft()), now)
            while in_flight:
                yield from _answer(config, *_done(in_flight.popleft()), now)
            for r in active:
                if r.done:
                    yield _completion(r, now())
            active = [r for r in active if not r.done]
            attempts = max((r.attempts for r in active), default=0)
            if attempts:  # sub-requests to send again: the retry rule's wait, at most RETRY_ROUND_MAX_S
                time.sleep(min(backoff(attempts, config.backoff_s), RETRY_ROUND_MAX_S))


def max_count(config: PIConfig, sub_requests: int) -> int:
    """``maxCount`` of each sub-request of a call: ``pi.page_size``, cut so that the call returns at most
    ``pi.values_per_call`` values. Answers in flight are what an executor holds in memory, so it stays
    flat however long the window is; a long window just takes more pages, and the tags still paging
    after the others finished get larger pages."""
    return max(1, min(config.page_size, config.values_per_call // max(1, sub_requests)))


def _call(client: PIWebAPIClient, group: list[WindowRead]) -> dict:
    resources = [
        f"streams/{r.task.web_id}/recorded?startTime={r.pager.next_start}&endTime={to_pi(r.task.end)}"
        f"&boundaryType=Inside&maxCount={r.pager.page_size}"
        for r in group
    ]
    return client.batch(get_body(client, resources))


def _done(entry: tuple) -> tuple[list[WindowRead], dict | PIWebAPIError]:
    group, future = entry
    try:
        return group, future.result()
    except PIWebAPIError as exc:
        return group, exc


def _answer(config: PIConfig, group: list[WindowRead], answers: dict | PIWebAPIError, now) -> Iterator[tuple]:
    if isinstance(answers, PIWebAPIError):
        if answers.payload is not None:
            context = {
                "request": "POST batch",
                "status": answers.status,
                "error": str(answers),
                "web_ids": [r.task.web_id for r in group],
                "body": answers.payload,
            }
            yield _quarantine(group[0], "batch answer is not valid JSON", context, now(), whole_call=True)
        for r in group:
            _fail_or_retry(r, config, str(answers), answers.transient)
        return
    extracted_at = now()
    plain: list[tuple[WindowRead, PageOf]] = []
    for i, r in enumerate(group):
        try:
            content = sub_content(answers, str(i))
        except PIWebAPIError as exc:
            if exc.payload is not None:  # no entry for it, or no Items list: kept with the answer
                yield _quarantine(r, str(exc), None, extracted_at, encoded=exc.payload)
                _fail_or_retry(r, config, f"{exc}; quarantined", exc.transient)
            else:
                _fail_or_retry(r, config, str(exc), exc.transient)
            continue
        items = content["Items"]
        if _has_value_errors(items) and (r.attempts < config.max_retries or not config.keep_value_errors):
            # the server could not produce some values this time: ask for the page again; when the
            # retries run out the window fails (its watermark holds, the next update reads it again),
            # unless pi.keep_value_errors keeps them as error rows
            _fail_or_retry(r, config, f"values carried Errors: {_first_errors(items)}", True)
            continue
        r.attempts = 0
        keep = _page(r, items)
        if keep:
            page = _plain_page(r, keep, content.get("UnitsAbbreviation"))
            if page is None:
                yield from value_rows(r, keep, content.get("UnitsAbbreviation"), extracted_at)
            else:
                plain.append((r, page))
    if plain:
        reads = {id(page): r for r, page in plain}
        batch, ends, declined = value_batch([page for _, page in plain], extracted_at)
        for page, last_micros, last_seq in ends:
            r = reads[id(page)]
            r.last_micros, r.seq = last_micros, last_seq
            r.count += len(page.columns.raw_ts)
        if batch is not None:
            yield batch
        for page in declined:
            yield from value_rows(reads[id(page)], page.items, page.units, extracted_at)


def _has_value_errors(items: list) -> bool:
    return any(type(item) is dict and "Errors" in item for item in items)


def _first_errors(items: list) -> str:
    """The first value error of a page, for the completion record (its timestamp and message)."""
    item = next(i for i in items if type(i) is dict and "Errors" in i)
    return f"{item.get('Timestamp')} {json.dumps(item.get('Errors'), ensure_ascii=False)[:300]}"


def _page(r: WindowRead, items: list) -> list:
    """The values of a page to keep; moves the tag's paging on, and ends the window at its last page or
    when it cannot page on."""
    try:
        keep = r.pager.take(items)
    except PagingStuck as exc:
        r.error = str(exc)
        keep = []
    r.done = r.pager.finished
    return keep


def _plain_page(r: WindowRead, items: list, units) -> PageOf | None:
    columns = decode_page(items, units)
    if columns is None:
        return None
    return PageOf(items, columns, r.task.window_columns(), r.last_micros, r.seq, units=units)


def delivered_window(task: WindowTask, at: dt.datetime) -> Iterator[tuple]:
    """A window whose values Stream Updates delivered (:mod:`connector_lib.follow` only makes one of values
    added after the tag's watermark): their rows, each value's sequence counted among the window's values
    at its instant, and the window's completion record."""
    r = WindowRead(task, 1)
    events = [{k: v for k, v in e.items() if k not in EVENT_ONLY} if type(e) is dict else e for e in task.events or ()]
    yield from value_rows(r, events, None, at)
    r.done = True
    yield _completion(r, at)


#: the fields of a Stream Updates event that are not a value's
EVENT_ONLY = ("Action", "PreviousEventAction")


def value_rows(r: WindowRead, items: list, units, extracted_at: dt.datetime) -> Iterator[tuple]:
    """The careful path, for a page the columnar decoder declines: one value at a time, odd values typed
    or quarantined with their payload, each keeping its sequence among the values of its instant."""
    window = r.task.window_columns()
    for item in items:
        try:
            values = normalise(item, units)
        except MalformedValue as exc:
            # a value with a readable timestamp keeps its place in the run of that timestamp, so the
            # values beside it keep the sequence the server's order gives them (and a later re-read that
            # returns it readable does not shift their keys)
            at = _readable_timestamp(item)
            if at is None:
                yield _quarantine(r, exc.reason, exc.raw, extracted_at)
                continue
            micros = epoch_micros(at)
            r.seq = r.seq + 1 if micros == r.last_micros else 0
            r.last_micros = micros
            yield _quarantine(r, exc.reason, exc.raw, extracted_at, timestamp=at, sequence=r.seq)
            continue
        micros = epoch_micros(values[0])
        r.seq = r.seq + 1 if micros == r.last_micros else 0
        r.last_micros = micros
        r.count += 1
        yield _row(
            record_kind="value",
            sequence=r.seq,
            **dict(zip(VALUE_FIELDS, values)),
            **window,
            extracted_at=extracted_at,
        )


def iter_rows(records: Iterable[tuple | pa.RecordBatch]) -> Iterator[tuple]:
    """Everything :func:`read_windows` yields as plain tuples (tests and small tools)."""
    for record in records:
        if isinstance(record, pa.RecordBatch):
            yield from zip(*(record.column(name).to_pylist() for name in COLUMN_NAMES))
        else:
            yield record


def _fail_or_retry(r: WindowRead, config: PIConfig, message: str, transient: bool) -> None:
    r.attempts += 1
    if not should_retry(transient, r.attempts - 1, config.max_retries):
        r.error = message
        r.done = True


def _completion(r: WindowRead, at: dt.datetime) -> tuple:
    """The window's completion record; a re-read window names its request in ``raw`` (see
    :func:`window_context`), which keeps it out of the watermarks. A failed window carries no Stream
    Updates marker: the events after it may have been consumed, so a restart reads the tag from its
    watermark with ``recorded`` instead of resuming from the marker."""
    return _row(
        record_kind="window",
        **r.task.window_columns(),
        status="failed" if r.error else "ok",
        error=r.error,
        value_count=r.count,
        raw=window_context(r.task if not r.error else dataclasses.replace(r.task, marker=None)),
        extracted_at=at,
    )


def window_context(task: WindowTask) -> str | None:
    """What a completion record carries in ``raw``: ``reread`` (the request a re-read window serves),
    ``step`` (the tag's Step attribute, which gold's time-weighted mean follows) and ``marker`` (the tag's
    Stream Updates marker once the window is in bronze), when known. (The column
    exists for every record kind; a new bronze column would break existing streaming tables, whose source
    schema is fixed when they are created.)"""
    context = {
        k: v for k, v in (("reread", task.reread), ("step", task.step), ("marker", task.marker)) if v is not None
    }
    return json.dumps(context) if context else None


def _readable_timestamp(item: object) -> dt.datetime | None:
    """The timestamp of a value that is otherwise unusable, when it has a readable one."""
    raw_ts = item.get("Timestamp") if type(item) is dict else None
    if type(raw_ts) is not str:
        return None
    try:
        return parse_pi_timestamp(raw_ts)
    except ValueError:
        return None


def _quarantine(
    r: WindowRead,
    reason: str,
    raw: object,
    at: dt.datetime,
    whole_call: bool = False,
    timestamp: dt.datetime | None = None,
    sequence: int | None = None,
    encoded: str | None = None,
) -> tuple:
    """A payload that could not be used, with what is needed to replay it: the tag and window (or, for
    the answer of a whole call, the web ids of every tag it carried, in ``raw``); for one value with a
    readable timestamp, that timestamp and the sequence it holds among the values at that instant.
    ``encoded``: the payload already as JSON text (in place of ``raw``)."""
    t = r.task
    try:
        text = encoded if encoded is not None else json.dumps(raw, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(raw)
    return _row(
        record_kind="quarantine",
        web_id=None if whole_call else t.web_id,
        tag=None if whole_call else t.tag,
        window_start=t.start,
        window_end=t.end,
        error=reason,
        raw=text[:PAYLOAD_LIMIT],
        extracted_at=at,
        timestamp=timestamp,
        sequence=sequence,
    )
