"""A PI point's calculated reads: ``streams/{webId}/`` ``interpolated``, ``interpolatedattimes``,
``recordedattime``, ``recordedattimes``, ``plot``, ``summary`` and ``value`` (at a time, or the
snapshot), answered by :mod:`calculation` from the archive as of the server's clock.

Parameters follow the vendor's reference: ``interval`` defaults to ``1h``, ``intervals`` (plot) to 24,
``summaryType`` to ``Total``, ``calculationBasis`` to ``TimeWeighted``, ``timeType`` and
``retrievalMode`` to ``Auto``; enum values are case-insensitive. A read past ``MaxReturnedItemsPerCall``
values is a 400, as on a real server; ``filterExpression`` is not simulated (400 saying so).
"""

from __future__ import annotations

from . import pitime
from .calculation import (
    BASES,
    NO_DATA,
    NON_NUMERIC_TYPES,
    RETRIEVAL_MODES,
    TIME_TYPES,
    Sample,
    Stream,
    expand_types,
    intervals,
    plot_indices,
    recorded_at,
    summarize,
)
from .context import ServerContext
from .model import Point
from .point_routes import PointRoutes
from .protocol import ApiError, Request, enum_arg, int_arg
from .render import event_value, state_value, timed_value
from .routing import Route

#: a stream's resources answered from its values (``value`` and ``end`` aside), for PI points here and for
#: AF attributes with a PI Point data reference in the asset routes
STREAM_RESOURCES = (
    "recorded",
    "interpolated",
    "interpolatedattimes",
    "recordedattime",
    "recordedattimes",
    "plot",
    "summary",
)


def stream_set_item(identity: dict, resource: str, content: dict, end_as_list: bool = False) -> dict:
    """A stream set's item for one stream (``identity``: its WebId, Name, Path and Links) from that stream's
    own answer to ``resource``: ``Value`` for a one-value answer (``recordedattime``; ``end``, which the
    vendor's spec lists as ``Items`` of one value for an ad hoc set, ``end_as_list``), else ``Items`` with
    the stream's units (a summary has none)."""
    if resource == "recordedattime" or (resource == "end" and not end_as_list):
        return {**identity, "Value": content}
    item = {**identity, "Items": [content] if resource == "end" else content["Items"]}
    if resource != "summary":
        item["UnitsAbbreviation"] = content.get("UnitsAbbreviation", "")
    return item


class StreamRoutes:
    def __init__(self, ctx: ServerContext, points: PointRoutes):
        self.ctx = ctx
        self.points = points

    # ---- helpers -------------------------------------------------------------------------------
    def _stream(self, point: Point, start: int, end: int) -> Stream:
        return Stream.around(self.ctx.archive, point, min(start, end), max(start, end), self.ctx.now())

    def _sample(self, point: Point, stream: Stream, sample: Sample, ticks: int | None = None) -> dict:
        """A sample as a ``TimedValue``: stamped ``ticks`` (a calculated value) or its event's own time."""
        if sample.no_data:
            assert ticks is not None
            return timed_value(point, ticks, state_value(*NO_DATA), False)
        if sample.number is not None:
            assert ticks is not None
            return timed_value(point, ticks, sample.number, True)
        i = sample.index
        assert i is not None
        at = int(stream.ticks[i]) if ticks is None else ticks
        return timed_value(point, at, event_value(point, stream.seg, i), bool(stream.good[i]), stream.seg, i)

    def _ticks(self, req: Request, text: str) -> int:
        try:
            return pitime.parse_ticks(text, self.ctx.clock(), req.arg("timeZone"))
        except pitime.TimeParseError as exc:
            raise ApiError(400, str(exc)) from None

    def _times(self, req: Request) -> list[int]:
        """The ``time`` parameters, in the order given."""
        texts = req.args("time")
        if not texts:
            raise ApiError(400, "The 'time' parameter is required.")
        return [self._ticks(req, t) for t in texts]

    def _sorted_times(self, req: Request) -> list[int]:
        """The ``time`` parameters in ``sortOrder``, within ``MaxReturnedItemsPerCall``."""
        times = sorted(self._times(req))
        if enum_arg(req, "sortOrder", ("Ascending", "Descending"), "Ascending") == "Descending":
            times.reverse()
        self._within_limit(len(times))
        return times

    def _recorded(self, point: Point, stream: Stream, at: int, mode: str) -> dict:
        """The recorded event ``mode`` picks for ``at``, at its own time (or the value then, or no data,
        at ``at``)."""
        sample = recorded_at(stream, at, mode)
        return self._sample(point, stream, sample, at if sample.index is None else None)

    def _span(self, req: Request, name: str, default: str | None) -> int | None:
        text = req.arg(name) or default
        if text is None:
            return None
        try:
            return pitime.parse_span_ticks(text)
        except pitime.TimeParseError as exc:
            raise ApiError(400, f"The value '{text}' is not valid for {name}: {exc}") from None

    def _within_limit(self, count: int) -> None:
        if count > self.ctx.max_items:
            raise ApiError(400, f"The request would return more than the maximum allowed ({self.ctx.max_items}) items.")

    @staticmethod
    def _no_filter(req: Request) -> None:
        if req.arg("filterExpression"):
            raise ApiError(400, "The simulator does not evaluate filterExpression.")

    def _values(self, point: Point, items: list[dict]) -> dict:
        return {"Links": {}, "Items": items, "UnitsAbbreviation": point.kind.units}

    # ---- routes --------------------------------------------------------------------------------
    def interpolated(self, req: Request, web_id: str) -> dict:
        """Values every ``interval`` from ``startTime`` (or from ``syncTime``'s grid) to ``endTime``."""
        self._no_filter(req)
        point = self.points.readable(req, web_id)
        start, end = self.ctx.time_range(req)
        step = self._span(req, "interval", "1h")
        assert step is not None
        lo, hi = min(start, end), max(start, end)
        first = lo
        sync_text = req.arg("syncTime")
        if sync_text:
            sync = self._ticks(req, sync_text)
            boundary = enum_arg(req, "syncTimeBoundaryType", ("Inside", "Outside"), "Inside")
            first = sync + ((lo - sync) // step) * step  # the grid point at or before lo
            if first < lo and boundary == "Inside":
                first += step
        self._within_limit((hi - first) // step + 1 if hi >= first else 0)
        times = list(range(first, hi + 1, step))
        stream = self._stream(point, lo, hi)
        items = [self._sample(point, stream, stream.value_at(t), t) for t in times]
        if end < start:
            items.reverse()
        return self._values(point, items)

    def interpolated_at_times(self, req: Request, web_id: str) -> dict:
        self._no_filter(req)
        point = self.points.readable(req, web_id)
        times = self._sorted_times(req)
        stream = self._stream(point, min(times), max(times))
        return self._values(point, [self._sample(point, stream, stream.value_at(t), t) for t in times])

    def recorded_at_time(self, req: Request, web_id: str) -> dict:
        point = self.points.readable(req, web_id)
        at = self._times(req)[0]
        mode = enum_arg(req, "retrievalMode", RETRIEVAL_MODES, "Auto")
        return self._recorded(point, self._stream(point, at, at), at, mode)

    def recorded_at_times(self, req: Request, web_id: str) -> dict:
        point = self.points.readable(req, web_id)
        times = self._sorted_times(req)
        mode = enum_arg(req, "retrievalMode", RETRIEVAL_MODES, "Auto")
        stream = self._stream(point, min(times), max(times))
        return self._values(point, [self._recorded(point, stream, at, mode) for at in times])

    def plot(self, req: Request, web_id: str) -> dict:
        """Per interval, its first, last, lowest, highest and first bad event (each once), in time order."""
        point = self.points.readable(req, web_id)
        start, end = self.ctx.time_range(req)
        count = int_arg(req, "intervals", 24)
        if count < 1:
            raise ApiError(400, "Parameter 'intervals' must be greater than 0.")
        lo, hi = min(start, end), max(start, end)
        stream = self._stream(point, lo, hi)
        items = [self._sample(point, stream, Sample(index=i)) for i in plot_indices(stream, lo, hi, count)]
        self._within_limit(len(items))
        if end < start:
            items.reverse()
        return self._values(point, items)

    def summary(self, req: Request, web_id: str) -> dict:
        """One item per summary type and interval (``summaryDuration``; the whole range without it)."""
        self._no_filter(req)
        point = self.points.readable(req, web_id)
        start, end = self.ctx.time_range(req)
        try:
            types = expand_types(req.args("summaryType"))
        except ValueError as exc:
            raise ApiError(400, f"The value '{exc}' is not valid for summaryType.") from None
        basis = enum_arg(req, "calculationBasis", BASES, "TimeWeighted")
        time_type = enum_arg(req, "timeType", TIME_TYPES, "Auto")
        if not point.numeric and set(types) - NON_NUMERIC_TYPES:
            raise ApiError(400, "Count is the only summary type supported on non-numeric streams.")
        lo, hi = min(start, end), max(start, end)
        spans = intervals(lo, hi, self._span(req, "summaryDuration", None))
        self._within_limit(len(spans) * len(types))
        if end < start:
            spans.reverse()
        stream = self._stream(point, lo, hi)
        per_span = [summarize(stream, a, b, types, basis, time_type) for a, b in spans]
        items = []
        for k, kind in enumerate(types):
            for results in per_span:
                r = results[k]
                value = state_value(*r.value) if isinstance(r.value, tuple) else r.value
                items.append({"Type": kind, "Value": timed_value(point, r.ticks, value, r.good)})
        return {"Links": {}, "Items": items}

    def value(self, req: Request, web_id: str) -> dict:
        """The value at ``time`` (interpolated, or held on a stepped point); without it the snapshot."""
        if not req.arg("time"):
            return self.points.value(req, web_id)
        point = self.points.readable(req, web_id)
        at = self._times(req)[0]
        stream = self._stream(point, at, at)
        return self._sample(point, stream, stream.value_at(at), at)


ROUTES = (
    Route("GET", "streams/{web_id}/interpolated", StreamRoutes.interpolated),
    Route("GET", "streams/{web_id}/interpolatedattimes", StreamRoutes.interpolated_at_times),
    Route("GET", "streams/{web_id}/recordedattime", StreamRoutes.recorded_at_time),
    Route("GET", "streams/{web_id}/recordedattimes", StreamRoutes.recorded_at_times),
    Route("GET", "streams/{web_id}/plot", StreamRoutes.plot),
    Route("GET", "streams/{web_id}/summary", StreamRoutes.summary),
    Route("GET", "streams/{web_id}/value", StreamRoutes.value),
)
