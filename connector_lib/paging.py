"""The two ways the PI Web API pages a long answer, each kept once, with no HTTP of its own.

* **By index**: lists and searches (points of a data server, AF elements and attributes, event frames)
  take ``startIndex`` and ``maxCount`` and give no Next link, so a reader asks page after page until one
  comes back short (:func:`index_pages`).
* **By time**: ``recorded`` reads take ``startTime`` and ``maxCount`` and give no continuation either. The
  next page starts at the last timestamp of a full page; the values on that timestamp are dropped from the
  page and read again at the start of the next one, so a timestamp whose values straddle the page boundary
  is never split or doubled. A full page of one timestamp only cannot move on: its size doubles until the
  whole run fits, up to ``pi.max_items_per_call`` (:class:`TimePager`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Protocol

from .errors import PAYLOAD_LIMIT, PIWebAPIError


class Getter(Protocol):
    def get(self, path: str, params: dict | None = None) -> object: ...


def items_of(answer: object, where: str) -> list:
    """The ``Items`` list of a list or search answer; a malformed answer raises with its payload."""
    items = answer.get("Items") if isinstance(answer, dict) else None
    if not isinstance(items, list):
        raise PIWebAPIError(
            f"{where}: the answer has no Items list", payload=json.dumps(answer, ensure_ascii=False)[:PAYLOAD_LIMIT]
        )
    return items


def index_pages(fetch: Callable[[int, int], list], page_size: int) -> Iterator[list]:
    """The pages of a search: ``fetch(start_index, max_count)`` until a page shorter than ``page_size``."""
    start = 0
    while True:
        page = fetch(start, page_size)
        yield page
        if len(page) < page_size:
            return
        start += page_size


def paged(client: Getter, url: str, params: dict, page_size: int, fields: tuple[str, ...]) -> Iterator[dict]:
    """Every item of a list or search, page after page, each page asking only for ``fields`` of an item."""
    selected = ";".join("Items." + f for f in fields)

    def fetch(start: int, count: int) -> list:
        answer = client.get(url, params={**params, "startIndex": start, "maxCount": count, "selectedFields": selected})
        return items_of(answer, f"GET {url}")

    for page in index_pages(fetch, page_size):
        yield from page


class PagingStuck(ValueError):
    """More values share one timestamp than the largest page may hold: the read cannot move on."""


class TimePager:
    """Where the time paging of one ``recorded`` read stands: the start of the next page (the server's
    own timestamp text, so nothing is lost to rounding), the size of the page in flight, and whether the
    range is read to its end."""

    def __init__(self, start: str, max_items: int):
        self.next_start = start
        self.max_items = max_items
        self.min_page = 1  # grows (doubles) when a full page holds one timestamp only
        self.page_size = 0  # maxCount of the page in flight
        self.finished = False

    def size(self, wanted: int) -> int:
        """The ``maxCount`` of the next page: ``wanted``, or more while a run of one timestamp needs it."""
        self.page_size = max(wanted, self.min_page)
        return self.page_size

    def take(self, items: list) -> list:
        """The values of an answered page to keep, in order; moves the next start on. A short page ends
        the range. Raises :class:`PagingStuck` when a page of ``pi.max_items_per_call`` values holds one
        timestamp only."""
        if len(items) < self.page_size:
            self.finished = True
            return items
        last = items[-1].get("Timestamp") if isinstance(items[-1], dict) else None
        cut = len(items)
        while cut > 0 and isinstance(items[cut - 1], dict) and items[cut - 1].get("Timestamp") == last:
            cut -= 1
        if cut == 0 or last is None:
            if self.page_size >= self.max_items:
                self.finished = True
                raise PagingStuck(
                    f"more than {self.page_size} values share timestamp {last}; cannot page past pi.max_items_per_call"
                )
            self.min_page = min(self.page_size * 2, self.max_items)
            return []
        self.next_start = last
        return items[:cut]
