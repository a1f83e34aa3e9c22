"""Gold checked against the PI server's own numbers: for chosen finished tag-hours, PI's TimeWeighted
``Average`` and ``PercentGood`` as the server's ``summary`` resource answers them, next to gold's
``time_weighted_mean`` and ``time_weighted_good_share``, one row each (``pi_gold_verification``).

Nobody else offers this: it lets a user see, on their own server, that the lakehouse agrees with PI.
A tag-hour whose summary cannot be read is a row with the error, never a silent gap.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

from .client import PIWebAPIClient
from .errors import PIWebAPIError
from .timeutil import to_pi

#: (name, Spark type) of pi_gold_verification
VERIFY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("verified_at", "timestamp"),
    ("web_id", "string"),
    ("tag", "string"),
    ("hour", "timestamp"),
    ("gold_mean", "double"),
    ("pi_mean", "double"),
    ("gold_good_share", "double"),
    ("pi_good_share", "double"),
    ("matched", "boolean"),
    ("error", "string"),
)
#: relative difference within which gold and PI agree (gold keeps microseconds, PI 100 ns ticks, and the
#: server sums in its own order)
TOLERANCE = 1e-6
HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True)
class TagHour:
    """A finished gold row to check: its tag, hour and time-weighted numbers."""

    web_id: str
    tag: str
    hour: dt.datetime
    mean: float | None
    good_share: float | None
    numeric: bool = True  # a digital or text point has no average: only its percent good is compared


def agrees(ours: float | None, theirs: float | None, tolerance: float = TOLERANCE) -> bool:
    """Both absent, or equal within ``tolerance`` (relative, and absolute near zero)."""
    if ours is None or theirs is None:
        return ours is None and theirs is None
    return math.isclose(ours, theirs, rel_tol=tolerance, abs_tol=tolerance)


#: PI point types without numbers, whose summaries offer Count and PercentGood only
NON_NUMERIC = frozenset({"Digital", "String", "Timestamp", "Blob"})


def summary_path(item: TagHour) -> str:
    types = "summaryType=Average&summaryType=PercentGood" if item.numeric else "summaryType=PercentGood"
    return (
        f"streams/{quote(item.web_id)}/summary?startTime={quote(to_pi(item.hour))}"
        f"&endTime={quote(to_pi(item.hour + HOUR))}&{types}"
        "&calculationBasis=TimeWeighted&selectedFields=Items.Type;Items.Value.Value;Items.Value.Good"
    )


def verify(client: PIWebAPIClient, items: Iterable[TagHour], at: dt.datetime) -> Iterator[tuple]:
    """One pi_gold_verification row per tag-hour, stamped ``at``."""
    for item in items:
        pi_mean = pi_share = matched = error = None
        try:
            answer = client.get(summary_path(item))
            values = {i.get("Type"): i.get("Value") or {} for i in answer.get("Items") or []}
            average, percent = values.get("Average", {}), values.get("PercentGood", {})
            if not isinstance(percent.get("Value"), (int, float)):
                raise PIWebAPIError(f"summary of {item.tag}: no PercentGood in the answer")
            pi_mean = float(average["Value"]) if average.get("Good") and _number(average.get("Value")) else None
            pi_share = float(percent["Value"]) / 100
            matched = agrees(item.mean, pi_mean) and agrees(item.good_share, pi_share)
        except PIWebAPIError as exc:
            error = str(exc).splitlines()[0]
        yield (at, item.web_id, item.tag, item.hour, item.mean, pi_mean, item.good_share, pi_share, matched, error)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
