"""The request/response vocabulary every route module of the simulated PI Web API shares.

PI Web API treats query parameter names case-insensitively (``maxcount`` is ``maxCount``), answers every
4xx/5xx with an ``{"Errors": [...]}`` body, applies ``selectedFields`` to any answer, pages collections
with ``startIndex``/``maxCount`` (default 1000, negative values rejected) and matches names with PI
wildcards (``*`` and ``?``, case-insensitive). These helpers reproduce that once, so the route modules
answer alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl


class ApiError(Exception):
    """An answer other than 200: ``status`` with the ``{"Errors": messages}`` body."""

    def __init__(self, status: int, *messages: str):
        super().__init__(messages[0] if messages else "")
        self.status = status
        self.messages = list(messages)


@dataclass
class Request:
    method: str
    path: str  # below /piwebapi, e.g. "streams/F1DP.../recorded"
    query: dict[str, list[str]]  # lower-cased names
    body: bytes = b""
    base_url: str = ""
    user: str | None = None  # who authenticated (None: the server needs no authentication)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name.lower())
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name.lower(), [])


@dataclass
class Response:
    status: int
    content: object
    headers: dict[str, str] = field(default_factory=dict)


def parse_query(raw: str) -> dict[str, list[str]]:
    """A query string as lower-cased names to their values (PI Web API ignores the case of names)."""
    out: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        out.setdefault(key.lower(), []).append(value)
    return out


def int_arg(req: Request, name: str, default: int) -> int:
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"The value '{raw}' is not valid for {name}.") from None


def bool_arg(req: Request, name: str, default: bool) -> bool:
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ApiError(400, f"The value '{raw}' is not valid for {name}.")


def enum_arg(req: Request, name: str, choices: Iterable[str], default: str) -> str:
    """The value of an enum parameter, matched case-insensitively and returned as ``choices`` spell it."""
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    for choice in choices:
        if choice.lower() == raw.strip().lower():
            return choice
    raise ApiError(400, f"The value '{raw}' is not valid for {name}.")


def paging(req: Request, limit: int | None = None) -> tuple[int, int]:
    """``(startIndex, maxCount)`` of a collection (default 0 and 1000); 400 above ``limit`` or below 0."""
    start = int_arg(req, "startIndex", 0)
    count = int_arg(req, "maxCount", 1000)
    if limit is not None and count > limit:
        raise ApiError(400, f"Parameter 'maxCount' is greater than the maximum allowed ({limit}).")
    if count < 0 or start < 0:  # a negative startIndex would slice from the end
        raise ApiError(400, "Parameters 'startIndex' and 'maxCount' must not be negative.")
    return start, count


def page(req: Request, items: list, limit: int | None = None) -> list:
    """The ``startIndex``/``maxCount`` slice of ``items`` (see :func:`paging`)."""
    start, count = paging(req, limit)
    return items[start : start + count]


def max_count(req: Request, limit: int) -> int:
    """``maxCount`` of a data read (default 1000): at least 1, at most ``MaxReturnedItemsPerCall``."""
    count = int_arg(req, "maxCount", 1000)
    if count > limit:
        raise ApiError(400, f"Parameter 'maxCount' is greater than the maximum allowed ({limit}).")
    if count < 1:
        raise ApiError(400, "Parameter 'maxCount' must be greater than 0.")
    return count


def sort_order(req: Request, fields: Iterable[str]) -> tuple[str, bool]:
    """``(sortField, descending)``: ``sortField`` (default Name, lower-cased) among ``fields``, ``sortOrder``."""
    chosen = (req.arg("sortField") or "Name").lower()
    if chosen not in fields:
        raise ApiError(400, f"The value '{req.arg('sortField')}' is not valid for sortField.")
    order = (req.arg("sortOrder") or "Ascending").lower()
    if order not in ("ascending", "descending"):
        raise ApiError(400, f"The value '{req.arg('sortOrder')}' is not valid for sortOrder.")
    return chosen, order == "descending"


def wildcard(text: str) -> str:
    """PI wildcards as a regex: ``*`` any run, ``?`` one character, all else literal (``[`` too)."""
    return "".join({"*": ".*", "?": "."}.get(ch, re.escape(ch)) for ch in text)


def name_matcher(req: Request, name: str) -> Callable[[str | None], bool]:
    """A test of names against the wildcard pattern in parameter ``name`` (all names when absent)."""
    pattern = req.arg(name)
    if not pattern:
        return lambda text: True
    rx = re.compile(wildcard(pattern), re.I | re.S)
    return lambda text: rx.fullmatch(text or "") is not None


def not_found(what: str, text: str) -> ApiError:
    """The 404 of a WebID that decodes but names nothing (as PI Web API words it)."""
    return ApiError(404, f"The {what} with the WebID '{text}' was not found.")


def select_fields(content: object, selected: str | None) -> object:
    """Apply ``selectedFields`` (semicolon-separated dotted paths, case-insensitive). A field selected
    below a null (``Items.Exception.Errors`` of an item without an exception) leaves the null out."""
    if not selected:
        return content
    paths = [tuple(p.lower().split(".")) for p in selected.split(";") if p.strip()]

    def walk(node: object, prefix: tuple[str, ...]) -> object:
        if isinstance(node, list):
            return [walk(item, prefix) for item in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            here = prefix + (key.lower(),)
            if any(p[: len(here)] == here and len(p) == len(here) for p in paths):
                out[key] = value
            elif any(p[: len(here)] == here for p in paths) and value is not None:
                out[key] = walk(value, here)  # a null parent of a selected field is left out
        return out

    return walk(content, ())
