"""The simulated PI Data Archive: a seeded catalog of points and their archived events.

Nothing is precomputed. A point's history is cut into one-hour segments; each segment's events come
from a random generator seeded by ``(seed, point id, segment)``, so any window can be generated on
demand, in any process, and always gives the same events. Time is kept in 100 ns ticks since the Unix
epoch, the resolution the PI Web API prints (7 fractional digits).
"""

from __future__ import annotations

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


def _stable_int(*parts: object) -> int:
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


class Archive:
    """A deterministic PI Data Archive of ``n_points`` points."""

    #: points are created between these two instants (ticks); all exist for any recent window
    CREATED_FROM = 1735689600 * TICKS_PER_SECOND  # 2025-01-01T00:00:00Z

    def __init__(self, seed: int = 42, n_points: int = 200, server_name: str = "PISIM",
                 segment_cache: int = 8192):
        """``segment_cache``: generated hours kept in memory (LRU), about 1.5 KB each; a real server's
        archive cache. Generation is on demand either way; the cache only saves repeating it."""
        if n_points < 1:
            raise ValueError("n_points must be >= 1")
        self.seed = int(seed)
        self.server_name = server_name
        self.server_id = uuid.UUID(int=_stable_int("dataserver", seed, server_name) << 64 | 0x4000)
        self.points = [self._make_point(i) for i in range(n_points)]
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
            mean_interval_s=float(rng.uniform(lo, hi)),
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
        created = point.created_ticks
        if seg_start <= created < seg_start + SEGMENT_TICKS:
            seg = _with_creation(seg, created)
        return seg

    def events(self, point: Point, start_ticks: int, end_ticks: int, limit: int | None = None,
               newest_first: bool = False) -> Segment:
        """Archived events with ``start <= tick <= end``, oldest first; with ``limit``, only the first
        ``limit`` of them (the newest ``limit`` when ``newest_first``), generating no more hours than
        those need, as an archive reads only the pages a ``maxCount`` asks for."""
        lo = max(start_ticks, point.created_ticks)
        is_string = point.point_type == "String"
        if end_ticks < lo:
            return _empty(is_string)
        hours = range(lo // SEGMENT_TICKS, end_ticks // SEGMENT_TICKS + 1)
        parts, found = [], 0
        for s in (reversed(hours) if newest_first else hours):
            seg = self._segment(point.point_id, s)
            seg = _select(seg, (seg.ticks >= lo) & (seg.ticks <= end_ticks))
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


def _empty(is_string: bool) -> Segment:
    z = np.zeros(0)
    return Segment(np.zeros(0, np.int64), np.zeros(0, np.int32), z, [] if is_string else None,
                   np.zeros(0, bool), np.zeros(0, bool), np.zeros(0, bool))


def _concat(parts: list[Segment], is_string: bool) -> Segment:
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
    return Segment(
        ticks=seg.ticks[mask],
        system_code=seg.system_code[mask],
        number=seg.number[mask],
        text=[t for t, k in zip(seg.text, mask) if k] if seg.text is not None else None,
        questionable=seg.questionable[mask],
        substituted=seg.substituted[mask],
        annotated=seg.annotated[mask],
    )


def _with_creation(seg: Segment, created: int) -> Segment:
    """Drop events before the point existed and put 'Pt Created' first, as the archive does."""
    keep = seg.ticks > created
    seg = _select(seg, keep)
    first_text = [PT_CREATED[0]] if seg.text is not None else None
    return Segment(
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
