"""Dispatch of simulated PI Web API requests by (HTTP method, path pattern) tables.

Each route module declares ``ROUTES``, a tuple of :class:`Route`; the :class:`Router` matches a request
against all of them. PI Web API paths are case-insensitive (``/Streams/{webId}/Recorded`` works) while
WebIDs keep their case, so literal segments match case-insensitively and ``{name}`` segments hand the
percent-decoded original text to the handler as the keyword argument ``name``.

One resource path can serve several kinds of WebID (``streams/{webId}/value`` of a PI point, an element
attribute or an event frame attribute), so a route may carry ``when``, a test of its ``{web_id}`` segment:
a route whose test passes takes precedence over the same pattern without a test, and the tests of one
pattern must exclude each other. A literal segment takes precedence over a ``{name}`` one
(``points/search`` before ``points/{web_id}``).

Adding a route is adding one ``Route`` entry to the route module's ``ROUTES`` and its handler method.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .protocol import ApiError, Request, Response, select_fields


@dataclass(frozen=True)
class Route:
    """``handler(routes, req, **segments)`` answers ``method`` on ``pattern`` (e.g. ``"elements/{web_id}"``).

    ``handler`` is the function of the route module's class (``AssetRoutes.element``); the router calls it
    on the module's instance. It returns the content of a 200 (``selectedFields`` is applied to it) or a
    whole :class:`Response`; it raises :class:`ApiError` for any other answer."""

    method: str
    pattern: str
    handler: Callable[..., object]
    when: Callable[[str], bool] | None = None  # a test of the {web_id} segment

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(s for s in self.pattern.split("/") if s)


@dataclass(frozen=True)
class _Compiled:
    route: Route
    literals: tuple[str | None, ...]  # lower-cased literal, or None for a {name} segment
    names: tuple[str | None, ...]  # the {name} of each segment, or None for a literal
    rank: tuple[int, ...]  # precedence: literal segments first, then a route with `when`

    @classmethod
    def of(cls, route: Route) -> _Compiled:
        segments = route.segments
        names = tuple(s[1:-1] if s.startswith("{") and s.endswith("}") else None for s in segments)
        literals = tuple(None if n is not None else s.lower() for s, n in zip(segments, names, strict=True))
        if route.when is not None and "web_id" not in names:
            raise ValueError(f"route {route.method} {route.pattern}: `when` needs a {{web_id}} segment")
        return cls(route, literals, names, (*(lit is not None for lit in literals), route.when is not None))

    def match(self, lower: list[str], parts: list[str]) -> dict[str, str] | None:
        for literal, low in zip(self.literals, lower, strict=True):
            if literal is not None and literal != low:
                return None
        params = {n: p for n, p in zip(self.names, parts, strict=True) if n is not None}
        if self.route.when is not None and not self.route.when(params["web_id"]):
            return None
        return params


class Router:
    """Matches requests against the route tables of several route modules.

    ``tables`` pairs each module's ``ROUTES`` with a function returning the instance its handlers run on
    (called per request, so an instance can be built on first use)."""

    def __init__(self, tables: Iterable[tuple[Sequence[Route], Callable[[], Any]]]):
        self._routes: dict[tuple[str, int], list[tuple[_Compiled, Callable[[], Any]]]] = {}
        seen: set[tuple[str, tuple[str | None, ...], bool]] = set()
        for routes, instance in tables:
            for route in routes:
                compiled = _Compiled.of(route)
                key = (route.method.upper(), compiled.literals, route.when is not None)
                if key in seen and route.when is None:
                    raise ValueError(f"route {route.method} {route.pattern} is declared twice")
                seen.add(key)
                self._routes.setdefault((route.method.upper(), len(compiled.literals)), []).append((compiled, instance))
        for candidates in self._routes.values():
            candidates.sort(key=lambda c: c[0].rank, reverse=True)  # stable: declaration order among equals

    def handle(self, req: Request) -> Response:
        """Answer ``req``: the handler's content as a 200 with ``selectedFields`` applied, or its
        :class:`Response`, or the ``{"Errors": [...]}`` of the :class:`ApiError` it raised."""
        try:
            result = self.call(req, split(req.path))
        except ApiError as exc:
            return Response(exc.status, {"Errors": exc.messages})
        if isinstance(result, Response):
            return result
        return Response(200, select_fields(result, req.arg("selectedFields")))

    def call(self, req: Request, parts: list[str]) -> object:
        """The handler's answer to ``req`` for the path ``parts`` (already split and decoded); raises
        :class:`ApiError`. Route modules use it to answer from another resource (``streamsets/recorded`` is
        ``streams/{webId}/recorded`` for each stream)."""
        method = req.method.upper()
        lower = [p.lower() for p in parts]
        for compiled, instance in self._routes.get((method, len(parts)), ()):
            params = compiled.match(lower, parts)
            if params is not None:
                return compiled.route.handler(instance(), req, **params)
        if method != "GET":  # every resource but the batch controller is read-only
            raise ApiError(405, f"The requested resource does not support http method '{method}'.")
        raise ApiError(404, "The specified resource was not found.")


def split(path: str) -> list[str]:
    """The percent-decoded segments of a path below ``/piwebapi``."""
    return [unquote(p) for p in path.strip("/").split("/") if p]
