"""PI Web API Stream Updates: register tags, and retrieve what changed in their archive since each tag's
marker, many tags per call.

A registration answers a marker; a retrieve with a marker answers the events since it (values added,
values inserted before the newest or edited in place) and the next marker. Both go through the batch
controller, ``pi.updates.markers_per_request`` tags or markers per ``streamsets/updates`` sub-request (the
markers travel in the URL), so ten thousand tags are a handful of calls.

Each tag's outcome is one of:

* a marker and its events (:class:`Retrieved`),
* :class:`Lost`: continuity is gone and events may have been missed (the server no longer knows the marker,
  404 ``Cache not found`` after a restart or its cache expired, 409 ``Invalid marker supplied``; the item
  reports an ``Exception``, such as the signup updated or removed; or the registration failed). The caller
  reads the tag's values with ``recorded`` from its watermark and registers it again;
* :class:`Unanswered`: the call failed transiently after its retries; the marker is still good and is
  asked again next time.

This module does no planning; :mod:`connector_lib.follow` decides what each outcome becomes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from .batch import send_all
from .client import PIWebAPIClient
from .config import PIConfig
from .errors import PIWebAPIError


@dataclass(frozen=True)
class Retrieved:
    """What changed since the marker asked, and the marker to ask next."""

    marker: str
    events: list


@dataclass(frozen=True)
class Lost:
    """Continuity is gone: the tag must be read with ``recorded`` and registered again. ``status``: the HTTP
    status of the call or sub-request that failed, when one did."""

    reason: str
    status: int | None = None


@dataclass(frozen=True)
class Unanswered:
    """The call failed transiently; the marker holds and is asked again."""

    reason: str


#: statuses of a registration sub-request that one WebID of its chunk can cause (an invalid WebID, a static
#: attribute, a point the user may not read): the chunk's tags are registered again one by one
SPLIT_STATUSES = (400, 403, 404, 409)
#: what a PI Web API without Stream Updates (older than 2018) answers for ``streamsets/updates``
NOT_OFFERED = (404, 405, 501)


def offered(client: PIWebAPIClient) -> str | None:
    """None when the server has ``streamsets/updates``, else why not. A retrieve without a marker is asked:
    a server with the resource refuses it (400: the marker is required), one without it answers that the
    resource does not exist."""
    try:
        client.get("streamsets/updates")
    except PIWebAPIError as exc:
        if exc.status in NOT_OFFERED:
            return str(exc)
    return None


def _chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    return (items[i : i + size] for i in range(0, len(items), size))


def _query(name: str, values: Iterable[str]) -> str:
    return "&".join(f"{name}={quote(v, safe='')}" for v in values)


def _errors(item: dict) -> str | None:
    """The failure an item reports (``Exception.Errors``, or ``Status: Failed``), or None."""
    exc = item.get("Exception")
    errors = exc.get("Errors") if isinstance(exc, dict) else None
    if errors:
        return "; ".join(str(e) for e in errors)[:300]
    if item.get("Status") == "Failed":
        return "the server reported the stream Failed"
    return None


def register(
    client: PIWebAPIClient, config: PIConfig, web_ids: Sequence[str], per_request: int | None = None
) -> dict[str, str | Lost | Unanswered]:
    """Each tag's first marker, or why it has none. One WebID that is not valid fails its whole
    ``streamsets/updates`` sub-request (the vendor's rule), so the tags of such a sub-request are registered
    again one by one (``per_request`` 1) and only that one fails."""
    chunks = [list(c) for c in _chunks(list(web_ids), per_request or config.markers_per_request)]
    found: dict[str, str | Lost | Unanswered] = {}
    alone: list[str] = []
    for chunk, answer in zip(chunks, _send(client, config, "POST", "webId", chunks)):
        if isinstance(answer, PIWebAPIError):
            if answer.transient:
                found.update({w: Unanswered(f"registration: {answer}") for w in chunk})
            elif len(chunk) > 1 and answer.status in SPLIT_STATUSES:
                alone += chunk
            else:
                found.update({w: Lost(f"registration: {answer}", answer.status) for w in chunk})
            continue
        found.update(_registrations(chunk, answer))
    if alone:
        found.update(register(client, config, alone, per_request=1))
    return found


def _registrations(chunk: list[str], answer: dict) -> dict[str, str | Lost]:
    items = answer["Items"]
    by_source = {item.get("Source"): item for item in items if isinstance(item, dict)}
    found: dict[str, str | Lost] = {}
    for i, web_id in enumerate(chunk):
        item = by_source.get(web_id) or (items[i] if i < len(items) and isinstance(items[i], dict) else None)
        if item is None:
            found[web_id] = Lost("registration: the answer has no item for this tag")
            continue
        failure = _errors(item)
        marker = item.get("LatestMarker")
        if failure or not isinstance(marker, str) or not marker:
            found[web_id] = Lost(f"registration: {failure or 'no LatestMarker in the answer'}")
        else:
            found[web_id] = marker
    return found


def retrieve(
    client: PIWebAPIClient, config: PIConfig, markers: dict[str, str]
) -> dict[str, Retrieved | Lost | Unanswered]:
    """What changed for each tag since its marker (web id -> marker)."""
    by_marker = {m: w for w, m in markers.items()}
    chunks = [list(c) for c in _chunks(list(markers.values()), config.markers_per_request)]
    found: dict[str, Retrieved | Lost | Unanswered] = {}
    for chunk, answer in zip(chunks, _send(client, config, "GET", "marker", chunks)):
        if isinstance(answer, PIWebAPIError):
            outcome: Lost | Unanswered = (
                Unanswered(f"updates: {answer}") if answer.transient else Lost(f"updates: {answer}", answer.status)
            )
            found.update({by_marker[m]: outcome for m in chunk})
            continue
        items = {item.get("RequestedMarker"): item for item in answer["Items"] if isinstance(item, dict)}
        for i, marker in enumerate(chunk):
            item = items.get(marker) or _at(answer["Items"], i)
            found[by_marker[marker]] = _retrieved(item)
    return found


def _at(items: list, i: int) -> dict | None:
    item = items[i] if i < len(items) else None
    return item if isinstance(item, dict) and not item.get("RequestedMarker") else None


def _retrieved(item: dict | None) -> Retrieved | Lost:
    if item is None:
        return Lost("updates: the answer has no item for this marker")
    failure = _errors(item)
    if failure:
        return Lost(f"updates: {failure}")
    marker, events = item.get("LatestMarker"), item.get("Events")
    if not isinstance(marker, str) or not marker or not isinstance(events, list):
        return Lost("updates: an item without LatestMarker or Events")
    return Retrieved(marker, events)


def _send(
    client: PIWebAPIClient, config: PIConfig, method: str, name: str, chunks: list[list[str]]
) -> list[dict | PIWebAPIError]:
    """One ``streamsets/updates`` sub-request per chunk, ``tags_per_request`` sub-requests per batch call;
    a call that fails as a whole fails each of its sub-requests."""
    answers: list[dict | PIWebAPIError] = []
    for calls in _chunks(chunks, config.tags_per_request):
        requests = [(method, f"streamsets/updates?{_query(name, chunk)}") for chunk in calls]
        try:
            answers += send_all(client, config, requests)
        except PIWebAPIError as exc:
            answers += [exc] * len(requests)
    return answers
