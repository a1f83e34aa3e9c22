"""Batch calls (``POST batch``): many GETs in one request, and the checks every sub-answer gets.

The batch controller answers 200 for the call and gives each sub-request its own ``Status`` and
``Content``; a sub-request can fail while its neighbours succeed, a 2xx sub-answer can still carry a
``WebException`` (the status it names counts), and a malformed one can lack its ``Items`` list. Every
reader (recorded values, AF attribute values, event frame attribute values) reads sub-answers through
:func:`sub_items`, so they are judged alike.

**Sub-request retries.** The call itself is retried by the HTTP client (:mod:`connector_lib.client`).
A sub-request that fails on its own is judged by the same rule (:mod:`connector_lib.errors`): a transient
status (429, 5xx, or a missing entry in the answer) is sent again, alone, after the same backoff, up to
``pi.http.max_retries`` times; a permanent status or a malformed answer fails at once. Time series reads
apply it window by window (:func:`connector_lib.extract.read_windows`, which also pages); AF and event
frame reads through :func:`get_all`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from .client import PIWebAPIClient
from .config import PIConfig
from .errors import PIWebAPIError, backoff, is_transient_status, should_retry
from .paging import items_of


def get_body(client: PIWebAPIClient, resources: Sequence[str]) -> dict[str, dict]:
    """The body of a batch call of GETs, keyed ``"0"``, ``"1"``, ... in the order of ``resources``."""
    return body(client, [("GET", resource) for resource in resources])


def body(client: PIWebAPIClient, requests: Sequence[tuple[str, str]]) -> dict[str, dict]:
    """The body of a batch call of ``(method, resource)`` sub-requests, keyed ``"0"``, ``"1"``, ..."""
    return {
        str(i): {"Method": method, "Resource": client.url(resource)} for i, (method, resource) in enumerate(requests)
    }


def _detail(content: Any) -> str:
    return content if isinstance(content, str) else json.dumps(content)[:300]


def sub_items(answers: dict, key: str) -> list:
    """The ``Items`` of sub-answer ``key`` (see :func:`sub_content`)."""
    return sub_content(answers, key)["Items"]


def sub_content(answers: dict, key: str) -> dict:
    """The ``Content`` of sub-answer ``key``, a JSON object with an ``Items`` list. Raises
    :class:`PIWebAPIError`: transient for a missing entry (with the ids the answer holds as ``payload``)
    and for a transient status or ``WebException``; permanent for any other failed status and for an
    answer without an ``Items`` list (with the answer as ``payload``, for quarantine)."""
    answer = answers.get(key)
    if not isinstance(answer, dict):
        context = {"request_id": key, "answer": answer, "ids_in_response": sorted(answers)[:100]}
        raise PIWebAPIError(
            "batch response has no entry for this sub-request",
            transient=True,
            payload=json.dumps(context, ensure_ascii=False, default=str),
        )
    status = answer.get("Status")
    content: Any = answer.get("Content")
    if not isinstance(status, int) or not 200 <= status < 300:
        raise PIWebAPIError(
            f"HTTP {status}: {_detail(content)}",
            status if isinstance(status, int) else None,
            transient=is_transient_status(status),
        )
    if isinstance(content, dict) and isinstance(content.get("WebException"), dict):
        exc = content["WebException"]
        code = exc.get("StatusCode")
        raise PIWebAPIError(
            f"WebException {code}: {exc.get('Errors')}",
            code if isinstance(code, int) else None,
            transient=is_transient_status(code),
        )
    items_of(content, f"sub-request {key}")
    return content


def get_all(
    client: PIWebAPIClient,
    config: PIConfig,
    resources: Sequence[str],
    where: Callable[[int], str],
) -> list[list]:
    """The ``Items`` of each GET in ``resources``, read in one batch call; sub-requests that fail
    transiently are sent again (only they) by the retry rule above. ``where(i)`` names sub-request ``i``
    in the error raised when one fails for good."""
    items = []
    for i, answer in enumerate(send_all(client, config, [("GET", r) for r in resources])):
        if isinstance(answer, PIWebAPIError):
            raise PIWebAPIError(f"{where(i)}: {answer}", answer.status, answer.transient, answer.payload)
        items.append(answer["Items"])
    return items


def send_all(
    client: PIWebAPIClient, config: PIConfig, requests: Sequence[tuple[str, str]]
) -> list[dict | PIWebAPIError]:
    """The ``Content`` of each ``(method, resource)`` sub-request (an object with ``Items``), or the error it
    failed with for good, in the order of ``requests``; sent in one batch call, and the sub-requests that
    fail transiently sent again (only they) by the retry rule above. A failure of the call itself raises."""
    found: dict[int, dict | PIWebAPIError] = {}
    pending = list(range(len(requests)))
    attempt = 0
    while pending:
        answers = client.batch(body(client, [requests[i] for i in pending]))
        failed: list[int] = []
        for slot, i in enumerate(pending):
            try:
                found[i] = sub_content(answers, str(slot))
            except PIWebAPIError as exc:
                if should_retry(exc.transient, attempt, config.max_retries):
                    failed.append(i)
                else:
                    found[i] = exc
        if failed:  # each was judged worth another attempt above
            time.sleep(backoff(attempt, config.backoff_s))
            attempt += 1
        pending = failed
    return [found[i] for i in range(len(requests))]
