"""The simulated PI Data Archive: a seeded catalog of points and their archived events.

Nothing is precomputed. A point's history is cut into one-hour segments; each segment's events come
from a random generator seeded by ``(seed, point id, segment)``, so any window can be generated on
demand, in any process, and always gives the same events. Time is kept in 100 ns ticks since the Unix
epoch, the resolution the PI Web API prints (7 fractional digits).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import uuid
from dataclasses import dataclass

import numpy as np

TICKS_PER_SECOND = 10_000_000
SEGMENT_SECONDS = 3600
SEGMENT_TICKS = SEGMENT_SECONDS * TICKS_PER_SECOND

# System digital states (AFSystemStateCode), display names as the PI Web API prints them.
PT_CREATED = ("Pt Created", 253)
SYSTEM_STATES = (("I/O Timeout", 246), ("Shutdown", 254), ("Bad Input", 255))
SYSTEM_STATE_WEIGHTS = (0.7, 0.15, 0.15)

DIGITAL_SETS = {
    "PumpState": ("Stopped", "Running", "Tripped"),
    "ValveState": ("Closed", "Open", "Travel"),
}


@dataclass(frozen=True)
class SensorKind:
    code: str
    descriptor: str
    point_type: str  # Float32 | Float64 | Int32 | Digital | String
    units: str
    mean_interval_s: tuple[float, float]  # range the per-point mean event interval is drawn from
    base: float = 0.0
    amplitude: float = 0.0
    noise: float = 0.0
    digital_set: str = ""


KINDS = (
    SensorKind("TT", "Temperature", "Float32", "°C", (20, 120), 65.0, 8.0, 0.6),
    SensorKind("PT", "Pressure", "Float64", "kPa", (10, 60), 450.0, 25.0, 3.0),
    SensorKind("FT", "Flow", "Float64", "m3/h", (5, 40), 120.0, 30.0, 4.0),
    SensorKind("LT", "Tank level", "Float32", "%", (60, 300), 55.0, 20.0, 0.8),
    SensorKind("VT", "Bearing vibration", "Float32", "mm/s", (15, 90), 2.5, 0.8, 0.3),
    SensorKind("PS", "Pump status", "Digital", "", (300, 1800), digital_set="PumpState"),
    SensorKind("XV", "Valve position", "Digital", "", (600, 3600), digital_set="ValveState"),
    SensorKind("CNT", "Batch counter", "Int32", "count", (120, 900), 500.0, 200.0, 30.0),
    SensorKind("PRD", "Product code", "String", "", (900, 3600)),
)

PLANTS = (
    ("SYD", "Sydney"),
    ("ROT", "Rotterdam"),
    ("HOU", "Houston"),
    ("OSA", "Osaka"),
    ("CAL", "Calgary"),
)

PRODUCTS = ("PX-100", "PX-200", "Grade A", "Grade B", "Lösung 7", "ULSD")


def stable_int(*parts: object) -> int:
    """A 64-bit integer derived from ``parts`` alone (not ``hash``, which varies by process): ids and
    random seeds that are the same in the server, the ground truth and every test process."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


@dataclass(frozen=True)
class Point:
    point_id: int
    name: str
    plant: str
    kind: SensorKind
    mean_interval_s: float
    phase: float
    created_ticks: int

    @property
    def point_type(self) -> str:
        return self.kind.point_type

    @property
    def numeric(self) -> bool:
        return self.point_type in ("Float32", "Float64", "Int32")

    @property
    def step(self) -> bool:
        """The point's ``Step`` attribute: counters and every non-numeric point hold their value until the
        next event; measurements are continuous (interpolated)."""
        return self.point_type in ("Digital", "String", "Int32")

    @property
    def descriptor(self) -> str:
        return f"{dict(PLANTS)[self.plant]} {self.kind.descriptor}"


@dataclass
class Segment:
    """Events of one point in one hour, in archive order (time, then arrival)."""

    ticks: np.ndarray  # int64
    system_code: np.ndarray  # int32, 0 = a real value
    number: np.ndarray  # float64, numeric value (Float/Int points) or digital code
    text: list[str] | None  # String points only
    questionable: np.ndarray
    substituted: np.ndarray
    annotated: np.ndarray
    # with ArchiveChanges only: when each event becomes visible, and when (if ever) it is edited to what
    visible: np.ndarray | None = None  # int64 ticks
    edit_at: np.ndarray | None = None  # int64 ticks, NEVER when the event is not edited
    edited_number: np.ndarray | None = None
    edited_text: list[str] | None = None


NEVER = np.iinfo(np.int64).max


@dataclass(frozen=True)
class ArchiveChanges:
    """What happens to the archive while a run goes on, seeded like everything else: values that arrive
    late (buffered interfaces; each event of a buffered point becomes visible up to ``max_delay_s`` after
    its timestamp, so arrivals come out of time order), values edited after they arrived (same timestamp,
    new value), points created and deleted at given instants. The server answers as of its clock; the
    ground truth can answer as of any instant."""

    seed: int = 0
    buffered_share: float = 0.0
    max_delay_s: float = 0.0
    edit_share: float = 0.0
    max_edit_delay_s: float = 0.0
    created: tuple[tuple[str, int], ...] = ()  # (tag, ticks): not listed and no data before
    deleted: tuple[tuple[str, int], ...] = ()  # (tag, ticks): not listed, reads answer 404 from then on

    @property
    def late(self) -> bool:
        return bool((self.buffered_share and self.max_delay_s) or self.edit_share)


class Archive:
    """A deterministic PI Data Archive of ``n_points`` points."""

    #: points are created between these two instants (ticks); all exist for any recent window
    CREATED_FROM = 1735689600 * TICKS_PER_SECOND  # 2025-01-01T00:00:00Z

    def __init__(
        self,
        seed: int = 42,
        n_points: int = 200,
        server_name: str = "PISIM",
        segment_cache: int = 8192,
        changes: ArchiveChanges | None = None,
        interval_scale: float = 1.0,
    ):
        """``segment_cache``: generated hours kept in memory (LRU), about 1.5 KB each; a real server's
        archive cache. Generation is on demand either way; the cache only saves repeating it.
        ``changes``: late arrivals, edits, points created and deleted (none by default).
        ``interval_scale`` multiplies every point's mean interval between events (0.1: ten times denser)."""
        if n_points < 1:
            raise ValueError("n_points must be >= 1")
        self.seed = int(seed)
        self.server_name = server_name
        self.server_id = uuid.UUID(int=stable_int("dataserver", seed, server_name) << 64 | 0x4000)
        self.changes = changes or ArchiveChanges()
        self.interval_scale = float(interval_scale)
        created = {tag.upper(): ticks for tag, ticks in self.changes.created}
        self.deleted_at = {tag.upper(): ticks for tag, ticks in self.changes.deleted}
        self.points = [self._make_point(i) for i in range(n_points)]
        self.points = [
            dataclasses.replace(p, created_ticks=created[p.name.upper()]) if p.name.upper() in created else p
            for p in self.points
        ]
        unknown = (set(created) | set(self.deleted_at)) - {p.name.upper() for p in self.points}
        if unknown:
            raise ValueError(f"changes name unknown points: {sorted(unknown)}")
        self.by_name = {p.name.upper(): p for p in self.points}
        self.by_id = {p.point_id: p for p in self.points}
        self._segment = functools.lru_cache(maxsize=segment_cache)(self._generate_segment)

    def _make_point(self, index: int) -> Point:
        plant_code, _ = PLANTS[index % len(PLANTS)]
        kind = KINDS[index % len(KINDS)]  # 9 kinds and 5 plants: every pairing within 45 points
        unit = index // (len(PLANTS) * len(KINDS)) + 1
        rng = np.random.default_rng([self.seed, 7919, index])
        lo, hi = kind.mean_interval_s
        return Point(
            point_id=index + 1,
            name=f"{plant_code}.U{unit:03d}.{kind.code}{index:05d}.PV",
            plant=plant_code,
            kind=kind,
            mean_interval_s=float(rng.uniform(lo, hi)) * self.interval_scale,
            phase=float(rng.uniform(0, 2 * math.pi)),
            created_ticks=self.CREATED_FROM + int(rng.integers(0, 180 * 86400)) * TICKS_PER_SECOND,
        )

    def _generate_segment(self, point_id: int, segment: int) -> Segment:
        point = self.by_id[point_id]
        kind = point.kind
        rng = np.random.default_rng([self.seed, point_id, segment])
        seg_start = segment * SEGMENT_TICKS
        n = int(rng.poisson(SEGMENT_SECONDS / point.mean_interval_s))
        ticks = np.sort(rng.integers(0, SEGMENT_TICKS, size=n, dtype=np.int64)) + seg_start
        # about half the events sit on whole seconds, like interface-scanned data
        whole = rng.random(n) < 0.5
        ticks = np.where(whole, ticks - ticks % TICKS_PER_SECOND, ticks)
        ticks.sort()
        # a few events share the previous event's timestamp (PI allows it)
        dup = rng.random(n) < 0.02
        dup[:1] = False
        for i in np.nonzero(dup)[0]:
            ticks[i] = ticks[i - 1]
        draws = rng.random(n)
        system_code = np.zeros(n, dtype=np.int32)
        sys_mask = draws < 0.004
        if sys_mask.any():
            pick = rng.choice(len(SYSTEM_STATES), size=int(sys_mask.sum()), p=SYSTEM_STATE_WEIGHTS)
            system_code[sys_mask] = np.array([SYSTEM_STATES[k][1] for k in pick], dtype=np.int32)
        quality = rng.random(n)
        noise = rng.normal(0.0, 1.0, n)
        seconds = ticks / TICKS_PER_SECOND
        text = None
        if kind.point_type == "Digital":
            number = rng.integers(0, len(DIGITAL_SETS[kind.digital_set]), n).astype(np.float64)
        elif kind.point_type == "String":
            number = np.zeros(n)
            picks = rng.integers(0, len(PRODUCTS), n)
            batch = rng.integers(1000, 9999, n)
            text = [f"{PRODUCTS[p]} batch {b}" for p, b in zip(picks, batch)]
        else:
            wave = np.sin(2 * math.pi * seconds / 86400.0 + point.phase)
            raw = kind.base + kind.amplitude * wave + kind.noise * noise
            if kind.point_type == "Int32":
                number = np.round(raw)
            elif kind.point_type == "Float32":
                number = np.array([float(str(np.float32(v))) for v in raw])
            else:
                number = np.round(raw, 6)
        seg = Segment(
            ticks=ticks,
            system_code=system_code,
            number=number,
            text=text,
            questionable=(quality < 0.01) & (system_code == 0),
            substituted=(quality >= 0.01) & (quality < 0.015) & (system_code == 0),
            annotated=(quality >= 0.015) & (quality < 0.017),
        )
        if self.changes.late:
            seg = self._with_arrivals(point, segment, seg)
        created = point.created_ticks
        if seg_start <= created < seg_start + SEGMENT_TICKS:
            seg = _with_creation(seg, created)
        return seg

    def _with_arrivals(self, point: Point, segment: int, seg: Segment) -> Segment:
        """When each event becomes visible and whether it is edited later (own random stream, so the
        events themselves are the same with or without changes)."""
        ch = self.changes
        rng = np.random.default_rng([self.seed, 104729, ch.seed, point.point_id, segment])
        n = len(seg.ticks)
        buffered = stable_int("buffered", self.seed, ch.seed, point.point_id) / 2**64 < ch.buffered_share
        delay = rng.uniform(0, ch.max_delay_s, n) if buffered else np.zeros(n)
        visible = seg.ticks + (delay * TICKS_PER_SECOND).astype(np.int64)
        for i in np.nonzero(seg.ticks[1:] == seg.ticks[:-1])[0] + 1:  # one timestamp: in archive order
            visible[i] = max(visible[i], visible[i - 1])
        edited = (rng.random(n) < ch.edit_share) & (seg.system_code == 0)
        edit_at = np.where(
            edited, visible + (rng.uniform(0, ch.max_edit_delay_s, n) * TICKS_PER_SECOND).astype(np.int64), NEVER
        )
        kind = point.kind
        edited_text = None
        if kind.point_type == "Digital":
            edited_number = (seg.number + 1) % len(DIGITAL_SETS[kind.digital_set])
        elif kind.point_type == "String":
            edited_number = seg.number
            edited_text = [t + " (corrected)" for t in seg.text]
        elif kind.point_type == "Int32":
            edited_number = seg.number + 1
        elif kind.point_type == "Float32":
            edited_number = np.array([float(str(np.float32(v + 0.5))) for v in seg.number])
        else:
            edited_number = np.round(seg.number + 0.5, 6)
        return dataclasses.replace(
            seg, visible=visible, edit_at=edit_at, edited_number=edited_number, edited_text=edited_text
        )

    def exists(self, point: Point, ticks: int) -> bool:
        """Whether the point exists at ``ticks`` (created, not yet deleted)."""
        return point.created_ticks <= ticks < self.deleted_at.get(point.name.upper(), NEVER)

    def live_points(self, ticks: int) -> list[Point]:
        if not self.changes.created and not self.deleted_at:
            return self.points
        return [p for p in self.points if self.exists(p, ticks)]

    def events(
        self,
        point: Point,
        start_ticks: int,
        end_ticks: int,
        limit: int | None = None,
        newest_first: bool = False,
        as_of: int | None = None,
    ) -> Segment:
        """Archived events with ``start <= tick <= end``, oldest first; with ``limit``, only the first
        ``limit`` of them (the newest ``limit`` when ``newest_first``), generating no more hours than
        those need, as an archive reads only the pages a ``maxCount`` asks for. ``as_of`` (ticks): only
        the events visible then, with the edits made by then (with :class:`ArchiveChanges`)."""
        lo = max(start_ticks, point.created_ticks)
        is_string = point.point_type == "String"
        if end_ticks < lo:
            return _empty(is_string)
        hours = range(lo // SEGMENT_TICKS, end_ticks // SEGMENT_TICKS + 1)
        parts, found = [], 0
        for s in reversed(hours) if newest_first else hours:
            seg = self._segment(point.point_id, s)
            seg = _select(seg, (seg.ticks >= lo) & (seg.ticks <= end_ticks))
            if seg.visible is not None:
                seg = _as_of(seg, as_of)
            parts.append(seg)
            found += len(seg.ticks)
            if limit is not None and found >= limit:
                break
        if newest_first:
            parts.reverse()
        merged = _concat(parts, is_string) if parts else _empty(is_string)
        if limit is not None and len(merged.ticks) > limit:
            cut = np.zeros(len(merged.ticks), dtype=bool)
            if newest_first:
                cut[-limit:] = True
            else:
                cut[:limit] = True
            merged = _select(merged, cut)
        return merged

    def arrivals(self, point: Point, start_ticks: int, end_ticks: int) -> list[Segment]:
        """The events with ``start <= tick <= end`` as first written, one segment per hour, each with when
        its events became visible and when (if ever) they are edited: what a data pipe reports as it
        happens. Without :class:`ArchiveChanges` an event is visible at its own time and never edited."""
        lo = max(start_ticks, point.created_ticks)
        parts = []
        for s in range(lo // SEGMENT_TICKS, end_ticks // SEGMENT_TICKS + 1) if end_ticks >= lo else ():
            seg = self._segment(point.point_id, s)
            seg = _select(seg, (seg.ticks >= lo) & (seg.ticks <= end_ticks))
            if seg.visible is None:
                n = len(seg.ticks)
                seg = dataclasses.replace(
                    seg,
                    visible=seg.ticks.copy(),
                    edit_at=np.full(n, NEVER, dtype=np.int64),
                    edited_number=seg.number,
                    edited_text=seg.text,
                )
            parts.append(seg)
        return parts

    @property
    def longest_change_delay(self) -> int:
        """Ticks: the longest an event can take from its timestamp to its last change (arrival, then edit)."""
        return int((self.changes.max_delay_s + self.changes.max_edit_delay_s) * TICKS_PER_SECOND) + 1

    def events_around(self, point: Point, start_ticks: int, end_ticks: int, as_of: int) -> Segment:
        """The events a calculation over ``[start, end]`` needs, as of ``as_of``: those inside, the last
        one before (the value holding at ``start``) and the first one after (the end of the line a
        continuous value follows at ``end``), in archive order."""
        is_string = point.point_type == "String"
        before = self.events(point, 0, start_ticks - 1, limit=1, newest_first=True, as_of=as_of)
        inside = self.events(point, start_ticks, min(end_ticks, as_of), as_of=as_of)
        after = self.events(point, end_ticks + 1, as_of, limit=1, as_of=as_of) if end_ticks < as_of else None
        return _concat([s for s in (before, inside, after) if s is not None], is_string)


def _empty(is_string: bool) -> Segment:
    z = np.zeros(0)
    return Segment(
        np.zeros(0, np.int64),
        np.zeros(0, np.int32),
        z,
        [] if is_string else None,
        np.zeros(0, bool),
        np.zeros(0, bool),
        np.zeros(0, bool),
    )


def _concat(parts: list[Segment], is_string: bool) -> Segment:
    parts = [p for p in parts if len(p.ticks)] or parts[:1]
    if len(parts) == 1:
        return parts[0]
    return Segment(
        ticks=np.concatenate([p.ticks for p in parts]),
        system_code=np.concatenate([p.system_code for p in parts]),
        number=np.concatenate([p.number for p in parts]),
        text=[t for p in parts for t in p.text] if is_string else None,
        questionable=np.concatenate([p.questionable for p in parts]),
        substituted=np.concatenate([p.substituted for p in parts]),
        annotated=np.concatenate([p.annotated for p in parts]),
    )


def _select(seg: Segment, mask: np.ndarray) -> Segment:
    def texts(values):
        return [t for t, k in zip(values, mask) if k] if values is not None else None

    def arrays(values):
        return values[mask] if values is not None else None

    return Segment(
        ticks=seg.ticks[mask],
        system_code=seg.system_code[mask],
        number=seg.number[mask],
        text=texts(seg.text),
        questionable=seg.questionable[mask],
        substituted=seg.substituted[mask],
        annotated=seg.annotated[mask],
        visible=arrays(seg.visible),
        edit_at=arrays(seg.edit_at),
        edited_number=arrays(seg.edited_number),
        edited_text=texts(seg.edited_text),
    )


def _as_of(seg: Segment, as_of: int | None) -> Segment:
    """The events visible at ``as_of`` with the edits made by then; ``None``: every event, as first
    written (the archive before any change)."""
    if as_of is None:
        return dataclasses.replace(seg, visible=None, edit_at=None, edited_number=None, edited_text=None)
    seg = _select(seg, seg.visible <= as_of)
    edited = seg.edit_at <= as_of
    text = seg.text
    if text is not None and edited.any():
        text = [e if k else t for t, e, k in zip(text, seg.edited_text, edited)]
    return Segment(
        ticks=seg.ticks,
        system_code=seg.system_code,
        number=np.where(edited, seg.edited_number, seg.number),
        text=text,
        questionable=seg.questionable,
        substituted=seg.substituted,
        annotated=seg.annotated,
    )


def _with_creation(seg: Segment, created: int) -> Segment:
    """Drop events before the point existed and put 'Pt Created' first, as the archive does."""
    keep = seg.ticks > created
    seg = _select(seg, keep)
    first_text = [PT_CREATED[0]] if seg.text is not None else None
    late = {}
    if seg.visible is not None:
        late = dict(
            visible=np.concatenate([[created], seg.visible]).astype(np.int64),
            edit_at=np.concatenate([[NEVER], seg.edit_at]).astype(np.int64),
            edited_number=np.concatenate([[0.0], seg.edited_number]),
            edited_text=(first_text + seg.edited_text) if seg.edited_text is not None else None,
        )
    return Segment(
        **late,
        ticks=np.concatenate([[created], seg.ticks]).astype(np.int64),
        system_code=np.concatenate([[PT_CREATED[1]], seg.system_code]).astype(np.int32),
        number=np.concatenate([[0.0], seg.number]),
        text=(first_text + seg.text) if seg.text is not None else None,
        questionable=np.concatenate([[False], seg.questionable]),
        substituted=np.concatenate([[False], seg.substituted]),
        annotated=np.concatenate([[False], seg.annotated]),
    )


def system_state_name(code: int) -> str:
    for name, value in (PT_CREATED, *SYSTEM_STATES):
        if value == code:
            return name
    raise KeyError(code)
