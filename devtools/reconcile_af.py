"""Compare AF and event frame silver with the simulator's ground truth (its AF model and event frames as
of an instant): current elements and attributes by AF Id, current event frames by Id. What ``make run``
prints after each update and what the end-to-end tests build on.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from connector_lib.timeutil import as_utc, from_epoch_micros
from pi_simulator.af import AssetModel
from pi_simulator.eventframes import EF_TEMPLATES, EventFrames, EventFrameState
from pi_simulator.truth import to_ticks


@dataclass
class Comparison:
    what: str
    silver: int = 0
    truth: int = 0
    missing: int = 0  # truth objects without a silver row
    unexpected: int = 0  # silver rows without a truth object
    differing: int = 0  # both present, some field differs
    duplicated: int = 0

    @property
    def exact(self) -> bool:
        return not (self.missing or self.unexpected or self.differing or self.duplicated)

    def line(self) -> str:
        return (
            f"RECONCILE {self.what}: silver={self.silver} truth={self.truth} missing={self.missing} "
            f"unexpected={self.unexpected} differing={self.differing} duplicated={self.duplicated}"
        )


def _compare(what: str, rows: dict, duplicates: int, expected: dict, same) -> Comparison:
    result = Comparison(what, silver=len(rows) + duplicates, truth=len(expected), duplicated=duplicates)
    result.missing = len(expected.keys() - rows.keys())
    result.unexpected = len(rows.keys() - expected.keys())
    result.differing = sum(1 for k in expected.keys() & rows.keys() if not same(rows[k], expected[k]))
    return result


def _keyed(rows) -> tuple[dict, int]:
    keyed = {r.id: r for r in rows}
    return keyed, len(rows) - len(keyed)


def reconcile_af(spark, model: AssetModel, when: dt.datetime) -> list[Comparison]:
    """Current elements (name, path, template) and attributes (path, referenced tag) against the model."""
    state = model.state(to_ticks(when))
    elements, dup_e = _keyed(spark.read.table("pi_af_elements").where("is_current").collect())
    attributes, dup_a = _keyed(spark.read.table("pi_af_attributes").where("is_current").collect())
    want_e = {str(k): (e.name, model.full_path(state.paths[k]), e.template) for k, e in state.elements.items()}
    want_a = {
        str(k): (model.full_path(f"{state.paths[a.element]}|{a.name}"), a.tag if a.template.data_reference else None)
        for k, a in state.attributes.items()
    }
    return [
        _compare("AF elements", elements, dup_e, want_e, lambda r, w: (r.name, r.path, r.template) == w),
        _compare("AF attributes", attributes, dup_a, want_a, lambda r, w: (r.path, r.tag) == w),
    ]


def frames_truth(
    model: AssetModel, lo: dt.datetime, when: dt.datetime, templates: tuple[str, ...] | None = None
) -> dict[str, EventFrameState]:
    """The frames (of ``templates``, default all) active at some time from ``lo`` to ``when``, as the
    server shows them at ``when``: what reads searching Overlapped from ``lo`` on, the last one at
    ``when``, have found."""
    low, now = to_ticks(lo), to_ticks(when)
    out = {}
    for frame in EventFrames(model).frames(low, now, templates):
        state = frame.as_of(now)
        if state is not None and (state.end is None or state.end >= low):
            out[str(frame.id)] = state
    return out


def _ticks(value: dt.datetime | None) -> int | None:
    return None if value is None else to_ticks(as_utc(value))  # Spark returns naive UTC


def frame_matches(row, state: EventFrameState) -> bool:
    """A silver frame row shows the frame as the server did: times, state, acknowledgement, values."""
    f = state.frame
    acknowledged = EF_TEMPLATES[f.template].can_be_acknowledged and state.is_acknowledged
    values = {k: json.loads(v).get("Value") for k, v in (row.attributes or {}).items()}
    captured = {k: v for k, v in state.values.items() if v is not None}  # uncaptured ones show a "No Data" state
    return (
        (row.name, row.template, row.severity, row.in_progress) == (f.name, f.template, f.severity, state.in_progress)
        and _ticks(row.start_time) == f.start
        and _ticks(row.end_time) == state.end
        and (row.is_acknowledged, row.acknowledged_by) == (acknowledged, f.ack_by if acknowledged else None)
        and values.keys() == state.values.keys()
        and all(values[k] == v for k, v in captured.items())
    )


def reconcile_event_frames(spark, model: AssetModel, as_of: dt.datetime | None = None) -> Comparison:
    """``pi_event_frames`` against the frames the reads so far found: active from the first read's start
    until the last read, each as the server showed it when its page was read (``last_read_at``), so the
    comparison holds on a simulator whose clock runs. ``as_of``: the instant a stopped simulator clock
    shows (every read saw the frames as of it)."""
    span = spark.sql("""SELECT min(unix_micros(search_start)) AS lo, max(unix_micros(extracted_at)) AS hi
                        FROM pi_event_frames_bronze WHERE record_kind IN ('read', 'event_frame')""").first()
    if span.lo is None:
        return Comparison("event frames")
    rows, duplicates = _keyed(spark.read.table("pi_event_frames").collect())
    if as_of is not None:
        same = frame_matches
    else:

        def same(row, state):
            return frame_matches(row, state.frame.as_of(_ticks(row.last_read_at)))

    truth = frames_truth(model, from_epoch_micros(span.lo), as_of or from_epoch_micros(span.hi))
    return _compare("event frames", rows, duplicates, truth, same)
