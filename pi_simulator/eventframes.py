"""Simulated event frames on the equipment of the AF model: downtime, batches, maintenance and alarms.

Like the archive, nothing is stored: the frames of one element, template and hour come from a random
generator seeded by those, so any time range can be searched in any process with the same answer.

Frames change after they start, as real ones do: a frame exists from its start time and is *in
progress* (end time far in the future) until its end passes; a batch's quantity is captured when it
closes; many downtime reasons are entered by an operator some time after the frame closed (``Unknown``
until then); alarms are acknowledged some minutes after they start (some never). :meth:`EventFrame.as_of`
gives what the server shows at an instant, for the server and the ground truth alike.
"""

from __future__ import annotations

import functools
import heapq
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .af import AssetModel
from .model import NEVER, PRODUCTS, TICKS_PER_SECOND, stable_int

HOUR = 3600 * TICKS_PER_SECOND
#: the longest frame; a search looks this far back for frames that started before its range
MAX_DURATION_S = 6 * 3600
OPERATORS = ("a.nguyen", "b.okafor", "c.silva", "d.mueller", "e.tanaka")
REASONS = ("Mechanical failure", "Electrical fault", "Starved", "Blocked", "Changeover", "Cleaning")
CONDITIONS = ("High", "HighHigh", "Low", "LowLow", "Deviation")
SEVERITIES = ("Minor", "Major", "Critical")


@dataclass(frozen=True)
class EventFrameTemplate:
    name: str
    categories: tuple[str, ...]
    element_templates: tuple[str, ...]  # the equipment whose frames these are
    per_hour: float  # expected frames per element and hour (batches: the chance one starts in an hour)
    duration_s: tuple[float, float]
    attributes: tuple[tuple[str, str, str], ...]  # (name, AF value type, units)
    can_be_acknowledged: bool = False


EF_TEMPLATES: dict[str, EventFrameTemplate] = {
    t.name: t
    for t in (
        EventFrameTemplate(
            "Downtime",
            ("Downtime",),
            ("Centrifugal Pump", "Packaging Line"),
            1 / 10,
            (300, 7200),
            (("Reason", "String", ""), ("Downtime Type", "String", "")),
        ),
        EventFrameTemplate(
            "Batch",
            ("Production",),
            ("Packaging Line",),
            0.7,
            (1800, 3000),
            (
                ("Product", "String", ""),
                ("Batch ID", "String", ""),
                ("Operator", "String", ""),
                ("Quantity", "Double", "units"),
            ),
        ),
        EventFrameTemplate(
            "Maintenance",
            ("Maintenance",),
            ("Centrifugal Pump", "Storage Tank"),
            1 / 40,
            (3600, MAX_DURATION_S),
            (("Work Order", "String", ""), ("Maintenance Type", "String", "")),
        ),
        EventFrameTemplate(
            "Alarm",
            ("Alarm",),
            ("Centrifugal Pump", "Storage Tank", "Packaging Line"),
            1 / 5,
            (60, 1800),
            (("Priority", "Int32", ""), ("Condition", "String", ""), ("Limit", "Double", "")),
            can_be_acknowledged=True,
        ),
    )
}


@dataclass(frozen=True)
class EventFrameState:
    """A frame as the server shows it at one instant."""

    frame: EventFrame
    in_progress: bool
    is_acknowledged: bool
    values: dict[str, object]

    @property
    def end(self) -> int | None:
        """End in ticks; ``None`` while in progress."""
        return None if self.in_progress else self.frame.end


@dataclass(frozen=True)
class EventFrame:
    id: uuid.UUID
    name: str
    template: str
    element: uuid.UUID  # the primary referenced element
    referenced: tuple[uuid.UUID, ...]  # every referenced element, the primary first
    start: int  # ticks
    end: int
    severity: str = "None"
    values: dict[str, object] = field(default_factory=dict)  # as captured when the frame closes
    open_values: dict[str, object] = field(default_factory=dict)  # what differs while it is open
    edit_at: int = NEVER  # when an operator changes attributes after the close ...
    edited: dict[str, object] = field(default_factory=dict)  # ... to these values
    ack_at: int = NEVER
    ack_by: str = ""

    def as_of(self, ticks: int) -> EventFrameState | None:
        if ticks < self.start:
            return None
        in_progress = ticks < self.end
        values = dict(self.values)
        if in_progress:
            values.update(self.open_values)
        elif ticks >= self.edit_at:
            values.update(self.edited)
        return EventFrameState(self, in_progress, ticks >= self.ack_at, values)


class EventFrames:
    """The event frames of an :class:`AssetModel`'s equipment."""

    def __init__(self, model: AssetModel, cache: int = 65536):
        self.model = model
        self.seed = model.seed
        self.equipment = [
            e
            for e in model.base_elements.values()
            if any(e.template in t.element_templates for t in EF_TEMPLATES.values())
        ]
        self.equipment.sort(key=lambda e: e.id)
        self._prefix = stable_int("eventframes", self.seed) & (2**48 - 1)
        self._hour = functools.lru_cache(maxsize=cache)(self._generate)

    _TEMPLATE_ORDER = tuple(EF_TEMPLATES)

    def _frame_id(self, element_index: int, template_name: str, hour: int, k: int) -> uuid.UUID:
        """A GUID that says where the frame comes from (clients treat GUIDs as opaque), so a frame can
        be read by its WebID without a search first, in any server process."""
        return uuid.UUID(
            int=(
                self._prefix << 80
                | element_index << 48
                | self._TEMPLATE_ORDER.index(template_name) << 40
                | hour << 8
                | k
            )
        )

    def _generate(self, element_index: int, template_name: str, hour: int) -> tuple[EventFrame, ...]:
        element = self.equipment[element_index]
        template = EF_TEMPLATES[template_name]
        rng = np.random.default_rng(
            [self.seed, 2718, stable_int(element.id) % 2**32, stable_int(template_name) % 2**32, hour]
        )
        if template_name == "Batch":  # one line runs one batch at a time: early in the hour, under an hour
            count = int(rng.random() < template.per_hour)
            offsets = rng.uniform(0, 600, count)
        else:
            count = int(rng.poisson(template.per_hour))
            offsets = np.sort(rng.uniform(0, 3600, count))
        unit = self.model.base_elements[element.parent] if element.parent else None
        frames = []
        for k, offset in enumerate(offsets):
            start = hour * HOUR + int(offset) * TICKS_PER_SECOND
            end = start + int(rng.uniform(*template.duration_s)) * TICKS_PER_SECOND
            fid = self._frame_id(element_index, template_name, hour, k)
            stamp = np.datetime64(start // TICKS_PER_SECOND, "s").astype(str).replace("-", "").replace(":", "")
            name = f"{template_name} {element.name} {stamp}"
            kw: dict = {}
            if template_name == "Downtime":
                reason = REASONS[int(rng.integers(len(REASONS)))]
                kw["values"] = {
                    "Reason": reason,
                    "Downtime Type": "Planned" if reason in ("Changeover", "Cleaning") else "Unplanned",
                }
                if rng.random() < 0.4:  # classified by an operator after the close
                    kw["values"]["Reason"] = "Unknown"
                    kw["edit_at"] = end + int(rng.uniform(600, 3 * 3600)) * TICKS_PER_SECOND
                    kw["edited"] = {"Reason": reason}
            elif template_name == "Batch":
                product = PRODUCTS[int(rng.integers(len(PRODUCTS)))]
                kw["values"] = {
                    "Product": product,
                    "Batch ID": f"B{hour % 100000:05d}-{element.name}",
                    "Operator": OPERATORS[int(rng.integers(len(OPERATORS)))],
                    "Quantity": float(round(rng.uniform(500, 5000), 1)),
                }
                kw["open_values"] = {"Quantity": None}  # captured when the batch closes
            elif template_name == "Maintenance":
                kw["values"] = {
                    "Work Order": f"WO-{int(rng.integers(10**6, 10**7))}",
                    "Maintenance Type": ("Preventive", "Corrective", "Inspection")[int(rng.integers(3))],
                }
            else:
                kw["severity"] = SEVERITIES[int(rng.integers(len(SEVERITIES)))]
                kw["values"] = {
                    "Priority": int(rng.integers(1, 4)),
                    "Condition": CONDITIONS[int(rng.integers(len(CONDITIONS)))],
                    "Limit": float(round(rng.uniform(1, 500), 2)),
                }
                if rng.random() < 0.85:
                    kw["ack_at"] = start + int(rng.uniform(30, 2700)) * TICKS_PER_SECOND
                    kw["ack_by"] = OPERATORS[int(rng.integers(len(OPERATORS)))]
            referenced = (element.id,) + ((unit.id,) if template_name == "Batch" and unit else ())
            frames.append(EventFrame(fid, name, template_name, element.id, referenced, start, end, **kw))
        return tuple(frames)

    def frames(self, lo: int, hi: int, templates: tuple[str, ...] | None = None) -> list[EventFrame]:
        """Every frame that may be active in ``[lo, hi]`` (ticks): those starting from
        ``lo - MAX_DURATION_S`` up to ``hi``; callers apply the search mode."""
        first, last = (lo - MAX_DURATION_S * TICKS_PER_SECOND) // HOUR, hi // HOUR
        out = []
        for i, element in enumerate(self.equipment):
            for name, template in EF_TEMPLATES.items():
                if element.template not in template.element_templates or (templates and name not in templates):
                    continue
                for hour in range(first, last + 1):
                    for frame in self._hour(i, name, hour):
                        if frame.start <= hi:
                            out.append(frame)
        return out

    def ordered(
        self,
        lo: int,
        hi: int,
        order: str,
        descending: bool = False,
        templates: tuple[str, ...] | None = None,
        element: uuid.UUID | None = None,
        now: int | None = None,
    ) -> Iterator[EventFrame]:
        """The frames that may be active in ``[lo, hi]`` (as :meth:`frames`), generated lazily in the
        order a search sorts them (``name``, ``starttime`` or ``endtime``, then by Id), so a search stops
        generating once its page is full: its cost follows the page, not how far back ``lo`` lies.

        Names are "<template> <element> <start time>", so name order is template and element name (one
        prefix, shared by equipment of the same name in several units), then start time, hour after hour. Start and end order go hour after hour over every
        (element, template), holding back only frames whose order later hours could still precede (an
        end lies at most :data:`MAX_DURATION_S` after its start; a frame still in progress at ``now`` sorts
        after every closed one). ``element``: only the frames of that equipment or of the equipment under
        it (a batch references its unit too)."""
        first, last = (lo - MAX_DURATION_S * TICKS_PER_SECOND) // HOUR, hi // HOUR
        pairs = [
            (i, name)
            for i, e in enumerate(self.equipment)
            for name, template in EF_TEMPLATES.items()
            if e.template in template.element_templates
            and (not templates or name in templates)
            and (element is None or element in (e.id, e.parent))
        ]
        hours = range(last, first - 1, -1) if descending else range(first, last + 1)

        def of(i: int, name: str, hour: int) -> list[EventFrame]:
            frames = [f for f in self._hour(i, name, hour) if f.start <= hi]
            return frames[::-1] if descending else frames

        if order == "name":  # equipment of one name in several units share a prefix: merged by hour
            groups: dict[str, list[tuple[int, str]]] = {}
            for i, name in pairs:
                groups.setdefault(f"{name} {self.equipment[i].name} ".upper(), []).append((i, name))
            for prefix in sorted(groups, reverse=descending):
                for hour in hours:
                    frames = [f for i, name in groups[prefix] for f in of(i, name, hour)]
                    frames.sort(key=lambda f: (f.name.upper(), f.id.int), reverse=descending)
                    yield from frames
            return
        open_after = now if now is not None else 2**63

        def key(f: EventFrame) -> int:
            if order == "starttime":
                return f.start
            return f.end if f.end is not None and f.end <= open_after else 2**63

        sign = -1 if descending else 1
        held: list[tuple[int, int, EventFrame]] = []
        for hour in hours:
            for i, name in pairs:
                for frame in of(i, name, hour):
                    heapq.heappush(held, (sign * key(frame), sign * frame.id.int, frame))
            # frames of the hours still to come sort after this bound
            bound = (
                (hour + 1) * HOUR
                if not descending
                else -(hour * HOUR + (MAX_DURATION_S * TICKS_PER_SECOND if order == "endtime" else 0))
            )
            while held and held[0][0] < bound:
                yield heapq.heappop(held)[2]
        while held:
            yield heapq.heappop(held)[2]

    def find(self, frame_id: uuid.UUID) -> EventFrame | None:
        value = frame_id.int
        element_index, template, hour, k = (
            (value >> 48) & 0xFFFFFFFF,
            (value >> 40) & 0xFF,
            (value >> 8) & 0xFFFFFFFF,
            value & 0xFF,
        )
        if value >> 80 != self._prefix or element_index >= len(self.equipment) or template >= len(self._TEMPLATE_ORDER):
            return None
        frames = self._hour(element_index, self._TEMPLATE_ORDER[template], hour)
        return frames[k] if k < len(frames) else None
