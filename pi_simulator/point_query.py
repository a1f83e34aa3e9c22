"""The PI point query of ``points/search`` (PIPoint Search Query Syntax), as tagreader and newer clients
send it.

Filters are ``Attr:op value`` (op "", "=", "<>", "<", "<=", ">", ">="), a bare value meaning ``Tag:=``,
AND (or whitespace) inside a condition, OR between conditions, values quoted or backslash-escaped, ``*``
and ``?`` wildcards, attribute aliases. Syntax PI would reject is a 400, as are the value filters
(``Value:``, ``Timestamp:``...) the simulator does not evaluate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .protocol import ApiError, wildcard

# PI point query (PIPoint Search Query Syntax): filters "Attr:op value" (op "", "=", "<>", "<", "<=",
# ">", ">="), a bare value meaning Tag:=, AND (or whitespace) inside a condition, OR between conditions,
# values quoted or backslash-escaped, "*" and "?" wildcards, attribute aliases.
_QUERY_ALIASES = {"name": "tag", "description": "descriptor", "datatype": "pointtype", "pointclass": "ptclassname"}
_QUERY_ATTRIBUTES = {"tag", "descriptor", "pointtype", "pointid", "engunits", "digitalset", "ptclassname"}
_VALUE_FILTERS = {"value", "timestamp", "substituted", "questionable", "annotated", "isgood"}
_FILTER_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):(<>|<=|>=|=|<|>)?")


@dataclass
class QueryFilter:
    attribute: str
    op: str
    text: str  # the value, unescaped
    pattern: re.Pattern  # the value as a case-insensitive wildcard pattern


def parse_point_query(query: str, search_option: str = "exactmatch") -> list[list[QueryFilter]]:
    """Parse into OR-ed lists of AND-ed filters; 400 on syntax PI would reject."""
    conditions: list[list[QueryFilter]] = [[]]
    pos, depth = 0, 0
    while pos < len(query):
        ch = query[pos]
        if ch.isspace():
            pos += 1
            continue
        if ch == "(" and not conditions[-1]:
            depth, pos = depth + 1, pos + 1
            continue
        if ch == ")" and depth:
            depth, pos = depth - 1, pos + 1
            continue
        word = re.match(r"(AND|OR)(?=\s|\(|$)", query[pos:], re.I)
        if word:
            if word.group(1).upper() == "OR":
                if not conditions[-1]:
                    raise ApiError(400, f"Invalid query '{query}': OR without a condition.")
                conditions.append([])
            pos += word.end()
            continue
        m = _FILTER_NAME.match(query, pos)
        attribute, op = ("tag", "=") if not m else (m.group(1).lower(), m.group(2) or "=")
        if m:
            pos = m.end()
        attribute = _QUERY_ALIASES.get(attribute, attribute)
        if attribute in _VALUE_FILTERS:
            raise ApiError(400, f"Query filter '{m.group(1)}' on PI point values is not supported by the simulator.")
        if attribute not in _QUERY_ATTRIBUTES:
            raise ApiError(400, f"Invalid query '{query}': unknown PI point attribute '{m.group(1)}'.")
        text, rx, pos = query_value(query, pos, depth)
        if attribute == "tag" and op == "=" and search_option != "exactmatch":
            rx = {"contains": f".*{rx}.*", "startswith": f"{rx}.*", "endswith": f".*{rx}"}[search_option]
        conditions[-1].append(QueryFilter(attribute, op, text, re.compile(rx, re.I | re.S)))
    if depth:
        raise ApiError(400, f"Invalid query '{query}': unbalanced parentheses.")
    if not conditions[-1] and len(conditions) > 1:
        raise ApiError(400, f"Invalid query '{query}': OR without a condition.")
    return conditions


def query_value(query: str, pos: int, depth: int) -> tuple[str, str, int]:
    """(unescaped text, regex, end) of a StringValue: quoted, or escaped characters up to whitespace."""
    text, rx = [], []

    def put(ch: str, literal: bool) -> None:
        text.append(ch)
        rx.append(re.escape(ch) if literal else wildcard(ch))

    if pos < len(query) and query[pos] in "'\"":
        quote, pos = query[pos], pos + 1
        while pos < len(query):
            ch, nxt = query[pos], query[pos + 1 : pos + 2]
            if (ch == "\\" and nxt and nxt in "'\"") or (ch == quote and nxt == quote):
                put(nxt, True)
                pos += 2
            elif ch == quote:
                return "".join(text), "".join(rx), pos + 1
            else:
                put(ch, False)
                pos += 1
        raise ApiError(400, f"Invalid query '{query}': unterminated quoted value.")
    while pos < len(query) and not query[pos].isspace() and not (query[pos] == ")" and depth):
        if query[pos] == "\\" and pos + 1 < len(query):
            put(query[pos + 1], True)
            pos += 2
        else:
            put(query[pos], False)
            pos += 1
    return "".join(text), "".join(rx), pos


def matches(attributes: dict[str, object], condition: list[QueryFilter], name_and_descriptor: bool) -> bool:
    both = name_and_descriptor and not any(f.attribute == "descriptor" for f in condition)
    for f in condition:
        value = attributes[f.attribute]
        if f.op in ("=", "<>"):
            hit = f.pattern.fullmatch(str(value)) is not None
            if both and f.attribute == "tag":
                hit = hit or f.pattern.fullmatch(str(attributes["descriptor"])) is not None
            if hit != (f.op == "="):
                return False
            continue
        if isinstance(value, int):
            try:
                left, right = value, int(f.text)
            except ValueError:
                raise ApiError(400, f"The value '{f.text}' is not valid for {f.attribute}.") from None
        else:
            left, right = str(value).upper(), f.text.upper()
        if not {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[f.op]:
            return False
    return True
