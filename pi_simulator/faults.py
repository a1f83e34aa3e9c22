"""Seeded fault injection: the ways a real PI Web API, its proxies and its network fail.

A :class:`FaultPlan` decides, for every HTTP request and every batch sub-request, whether it fails and
how. The decision is a hash of the plan's seed, the request itself (method, path, query, body) and how
many times that same request was seen before: a run is reproducible for a given seed and order of
requests, and a retry of a failed request is a fresh draw, so transient faults clear the way they do on
a real network. Faults of a plan with all rates at zero cost nothing.

HTTP faults (the whole call):
  ``500`` ``502`` ``503``  an error status with an ``Errors`` body (502 and 503 with a proxy's HTML page)
  ``429``                  too many requests, with ``Retry-After``
  ``slow``                 the answer comes after ``slow_s`` seconds (longer than the client's timeout)
  ``reset``                the connection closes half way through the body
  ``truncated``            a 200 whose JSON body is cut short
  ``malformed``            a 200 whose body is not JSON at all
  ``webexception``         a 200 whose body is a top-level ``WebException`` (an error while streaming)

Sub-request faults (one entry of a 207 batch answer):
  ``500`` ``503``          the entry's ``Status`` with an ``Errors`` content
  ``webexception``         ``Status`` 200 with a ``WebException`` content
  ``value_errors``         one value of the page carries ``Errors`` and a null ``Value``
  ``hostile``              one value of the page is replaced by a hostile one (``HOSTILE_VALUES``: bare
                           NaN, numbers as strings, a 1 MB string, missing fields, unknown fields, wrong
                           types); only when asked for, as it changes what the truth should be

Points named in ``failing_points`` answer every read with ``failing_status`` (403: the point's
security denies the reading user), the permanent failure of one tag among many.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field

HTTP_FAULTS = ("500", "502", "503", "429", "slow", "reset", "truncated", "malformed", "webexception")
SUB_FAULTS = ("500", "503", "webexception", "value_errors")
# "hostile" (not in the default mix): one value of the page replaced by one of these
HOSTILE_VALUES = (
    "nan",
    "infinity",
    "-infinity",
    "number_as_string",
    "huge_string",
    "missing_timestamp",
    "missing_value",
    "unknown_fields",
    "wrong_type_flag",
    "wrong_type_timestamp",
    "wrong_type_value",
    "not_an_object",
    "offset_timestamp",
    "digital_without_name",
    "nested_garbage",
)
# bare JSON tokens that strict JSON lacks but .NET serialisers write; the server swaps these markers in
BARE_TOKENS = {"nan": b"NaN", "infinity": b"Infinity", "-infinity": b"-Infinity"}

PROXY_PAGE = b"<html><head><title>Service Unavailable</title></head><body>The service is unavailable.</body></html>"


def draw(*parts: object) -> float:
    """A uniform draw in [0, 1) from the parts, the same in every process."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


@dataclass(frozen=True)
class FaultPlan:
    seed: int = 0
    http_rate: float = 0.0  # share of HTTP requests that fail
    http_kinds: tuple[str, ...] = HTTP_FAULTS
    sub_rate: float = 0.0  # share of batch sub-requests (recorded reads) that fail
    sub_kinds: tuple[str, ...] = SUB_FAULTS
    retry_after_s: int = 1
    slow_s: float = 3.0
    failing_points: frozenset[str] = frozenset()  # tag names, upper case
    failing_status: int = 403
    hostile_values: tuple[str, ...] = HOSTILE_VALUES
    fail_first: int = 0  # the first N batch calls fail whatever the rate (the server was down at the start)

    def __post_init__(self) -> None:
        for name, kinds, known in (
            ("http_kinds", self.http_kinds, HTTP_FAULTS),
            ("sub_kinds", self.sub_kinds, SUB_FAULTS + ("hostile",)),
            ("hostile_values", self.hostile_values, HOSTILE_VALUES),
        ):
            unknown = set(kinds) - set(known)
            if unknown:
                raise ValueError(f"{name}: unknown fault kinds {sorted(unknown)}; known: {', '.join(known)}")
        for name in ("http_rate", "sub_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        object.__setattr__(self, "failing_points", frozenset(p.upper() for p in self.failing_points))

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        """``seed=7,http=0.1,sub=0.05,kinds=500+429+reset,failing=TAG1+TAG2`` (the CLI's ``--faults``)."""
        fields: dict = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, _, value = part.partition("=")
            key = key.strip().lower()
            if key == "seed":
                fields["seed"] = int(value)
            elif key == "http":
                fields["http_rate"] = float(value)
            elif key == "sub":
                fields["sub_rate"] = float(value)
            elif key == "kinds":
                fields["http_kinds"] = tuple(value.split("+"))
            elif key == "sub_kinds":
                fields["sub_kinds"] = tuple(value.split("+"))
            elif key == "failing":
                fields["failing_points"] = frozenset(value.split("+"))
            elif key == "slow":
                fields["slow_s"] = float(value)
            else:
                raise ValueError(f"unknown fault setting {key!r}")
        return cls(**fields)


@dataclass
class FaultLog:
    """What a plan injected, by kind (tests print it and check that faults really happened)."""

    counts: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str) -> None:
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def total(self) -> int:
        return sum(self.counts.values())


class FaultInjector:
    """Draws faults for one server from its current plan; ``plan`` may be swapped between updates. With
    a plan that injects nothing every method returns at once, without hashing the request."""

    def __init__(self, plan: FaultPlan | None = None):
        self._lock = threading.Lock()
        self.plan = plan or FaultPlan()
        self.log = FaultLog()
        self._seen: dict[bytes, int] = {}

    @property
    def plan(self) -> FaultPlan:
        return self._plan

    @plan.setter
    def plan(self, plan: FaultPlan) -> None:
        """A new plan starts its own count of batch calls (``fail_first``)."""
        with self._lock:
            self._plan = plan
            self._batches = 0

    def _occurrence(self, key: bytes) -> int:
        with self._lock:
            n = self._seen.get(key, 0)
            self._seen[key] = n + 1
            return n

    def _draw(self, scope: str, rate: float, kinds: tuple[str, ...], *request: object) -> str | None:
        if not rate or not kinds:
            return None
        key = hashlib.blake2b(repr((scope,) + request).encode(), digest_size=16).digest()
        n = self._occurrence(key)
        seed = self.plan.seed
        if draw(seed, key, n) >= rate:
            return None
        kind = kinds[int(draw(seed, key, n, "kind") * len(kinds))]
        self.log.add(f"{scope}:{kind}")
        return kind

    def http_fault(self, method: str, target: str, body: bytes) -> str | None:
        plan = self.plan
        if plan.fail_first and method == "POST":
            with self._lock:
                self._batches += 1
                n = self._batches
            if n <= plan.fail_first:
                kind = plan.http_kinds[int(draw(plan.seed, "first", n) * len(plan.http_kinds))]
                self.log.add(f"http:{kind}")
                return kind
        return self._draw("http", plan.http_rate, plan.http_kinds, method, target, body)

    def sub_fault(self, method: str, resource: str) -> str | None:
        plan = self.plan
        return self._draw("sub", plan.sub_rate, plan.sub_kinds, method, resource)

    def point_fails(self, name: str) -> bool:
        if name.upper() in self.plan.failing_points:
            self.log.add("point:failing")
            return True
        return False


def with_value_error(items: list[dict], pick: float) -> list[dict]:
    """The page with one value replaced by the server's "could not produce this value" form."""
    if not items:
        return items
    i = int(pick * len(items))
    broken = {
        "Timestamp": items[i]["Timestamp"],
        "Value": None,
        "UnitsAbbreviation": items[i].get("UnitsAbbreviation", ""),
        "Good": False,
        "Questionable": False,
        "Substituted": False,
        "Annotated": False,
        "Errors": [{"FieldName": "Value", "Message": ["Failed to retrieve the value: the archive is busy."]}],
    }
    return items[:i] + [broken] + items[i + 1 :]


def marker(token: str) -> str:
    return f"@@{token}@@"


def with_hostile_value(items: list, kind: str, pick: float) -> list:
    """The page with one value replaced by the hostile form ``kind`` (see :data:`HOSTILE_VALUES`)."""
    if not items:
        return items
    i = int(pick * len(items))
    item = dict(items[i])
    if kind in BARE_TOKENS:
        item["Value"] = marker(kind)
    elif kind == "number_as_string":
        item["Value"] = "42.5"
    elif kind == "huge_string":
        item["Value"] = "x" * 1_000_000
    elif kind == "missing_timestamp":
        del item["Timestamp"]
    elif kind == "missing_value":
        del item["Value"]
    elif kind == "unknown_fields":
        item.update({"Annotations": [{"Id": 1}], "Extra": {"deep": [1, {"x": None}]}})
    elif kind == "wrong_type_flag":
        item["Good"] = "yes"
    elif kind == "wrong_type_timestamp":
        item["Timestamp"] = 1_700_000_000
    elif kind == "wrong_type_value":
        item["Value"] = [1, 2, 3]
    elif kind == "not_an_object":
        item = 42
    elif kind == "offset_timestamp":  # the same instant written with a +02:00 offset
        import datetime as dt

        stamp = item["Timestamp"]
        base, _, frac = stamp.rstrip("Z").partition(".")
        when = dt.datetime.fromisoformat(base) + dt.timedelta(hours=2)
        item["Timestamp"] = when.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "+02:00"
    elif kind == "digital_without_name":
        item["Value"] = {"Value": 3}
    elif kind == "nested_garbage":
        item["Value"] = {"a": {"b": {"c": [None, True, "z"]}}}
    else:  # pragma: no cover - FaultPlan validates the kinds
        raise ValueError(kind)
    return items[:i] + [item] + items[i + 1 :]
