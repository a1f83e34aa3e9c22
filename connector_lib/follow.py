"""Following tags with Stream Updates (``pi.read_mode = updates`` or ``auto``): what each micro-batch reads
for the tags that have a marker, and when a tag gets one.

A tag is *polled* (read with ``recorded`` windows by :func:`connector_lib.plan.plan_windows`) until its
window reaches the micro-batch's end; that micro-batch registers it and then stretches the window to the
moment the registration was answered, before the window is read: every value that arrives after the
registration comes as an event, and every value before it is in the window.
From then on the tag *follows*: each micro-batch retrieves what changed since its marker, and

* values added after the tag's position (``Add``, stamped after the tag's watermark) are written as they
  came, in a window from the position to when the retrieve was sent, or to the last of them if later
  (:func:`connector_lib.extract.delivered_window`): each is the first value at its instant, so its
  sequence is its place among the values of the window at that instant;
* anything else (a value inserted before the newest, an edit, a second value at an instant already
  written, a removal, a refresh) makes the tag's window a ``recorded`` read from the earliest instant
  touched, which gives every instant's values with their sequences exactly as the archive holds them;
* a lost continuity (:class:`connector_lib.updates.Lost`) drops the marker: the tag is polled again from
  its watermark less ``pi.lookback`` and registered again once it has caught up;
* a tag with nothing new writes a window only once its position is :data:`QUIET_ADVANCE` old, so its
  watermark (and the marker kept with it) moves on without a completion record per tag and micro-batch.

Every window of a following tag carries the marker that continues after it, and the watermarks keep it,
so a pipeline that restarts resumes from the markers of what it committed (an older marker the server no
longer knows is a lost continuity like any other).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable, Mapping

from .client import PIWebAPIClient
from .config import PIConfig
from .discovery import Tag
from .plan import WindowTask
from .timeutil import parse_pi_timestamp
from .updates import Lost, Retrieved, Unanswered, offered, register, retrieve

log = logging.getLogger(__name__)

#: a following tag with nothing new writes a window (moving its watermark on) once its position is this old
QUIET_ADVANCE = dt.timedelta(seconds=60)
#: tags named one by one in the log per micro-batch and outcome; past them, one line counts them all (a
#: restarted PI Web API loses every tag's marker at once)
NAMED_IN_LOG = 5
#: a tag whose registration the server refused (not a transient failure) is registered again this much later
REGISTER_AGAIN_AFTER = dt.timedelta(minutes=5)


class UpdatesRefused(RuntimeError):
    """``pi.read_mode = updates`` and the server has no Stream Updates; one line naming the host."""


class Follower:
    """The markers of one stream reader's tags and the Stream Updates reads of each micro-batch."""

    def __init__(
        self,
        config: PIConfig,
        markers: Mapping[str, str],
        client: Callable[[], PIWebAPIClient],
        now: Callable[[], dt.datetime],
    ):
        self.config = config
        self.markers = dict(markers)
        self._client = client
        self._now = now
        self.enabled = config.read_mode in ("updates", "auto")
        self._tried = False  # whether the server was asked if it offers Stream Updates (once per reader)
        self._refused: dict[str, dt.datetime] = {}  # web id -> when its registration was refused

    def following(self, web_id: str) -> bool:
        return self.enabled and web_id in self.markers

    def follow(
        self, tags: Iterable[Tag], positions: Mapping[str, dt.datetime], before: dt.datetime | None = None
    ) -> tuple[list[WindowTask], set[str]]:
        """The windows of the following tags (those whose position is before ``before``, when given: an
        available-now update stops at its start), and the tags whose continuity was lost (polled again from
        their watermark). A window ends when the retrieve was sent, or at the last value it delivered if
        that is later: every value stamped before then that the server had when it answered is in it (a
        server answers a tag's item some time after the call was sent, so values stamped in between may be
        delivered too)."""
        until = self._now()
        bound = before or until
        wanted = {t.web_id: t for t in tags if self.following(t.web_id) and positions[t.web_id] < bound}
        if not wanted:
            return [], set()
        outcomes = retrieve(self._client(), self.config, {w: self.markers[w] for w in wanted})
        tasks, lost, unanswered = [], set(), []
        for web_id, outcome in outcomes.items():
            tag = wanted[web_id]
            if isinstance(outcome, Lost):
                del self.markers[web_id]
                lost.add(web_id)
                _note(
                    log.warning, "Stream Updates continuity lost", "reading it with recorded", tag, outcome, len(lost)
                )
            elif isinstance(outcome, Retrieved):
                self.markers[web_id] = outcome.marker
                task = window(tag, positions[web_id], until, outcome)
                if task is not None:
                    tasks.append(task)
            else:
                assert isinstance(outcome, Unanswered)
                unanswered.append(web_id)
                _note(log.warning, "Stream Updates not answered", "asking again", tag, outcome, len(unanswered))
        if len(lost) > NAMED_IN_LOG or len(unanswered) > NAMED_IN_LOG:
            log.warning(
                "Stream Updates: continuity lost for %d tags, not answered for %d, of %d retrieved",
                len(lost),
                len(unanswered),
                len(wanted),
            )
        return tasks, lost

    def register_caught_up(self, tasks: list[WindowTask], end: dt.datetime) -> list[WindowTask]:
        """``tasks`` (polled windows of this micro-batch), those that reach ``end`` registered, carrying
        their first marker and stretched to when the registration was answered."""
        if not self.enabled:
            return tasks
        now = self._now()
        due = [
            t
            for t in tasks
            if t.end >= end
            and t.reread is None
            and t.web_id not in self.markers
            and now - self._refused.get(t.web_id, dt.datetime.min.replace(tzinfo=now.tzinfo)) >= REGISTER_AGAIN_AFTER
        ]
        if not due:
            return tasks
        if not self._tried:  # once per reader: does the server offer Stream Updates at all?
            self._tried = True
            missing = offered(self._client())
            if missing is not None:
                self._not_offered(missing)
                return tasks
        found = register(self._client(), self.config, [t.web_id for t in due])
        markers = {w: m for w, m in found.items() if isinstance(m, str)}
        refused = [w for w, outcome in found.items() if isinstance(outcome, Lost)]
        names = {t.web_id: t.tag for t in due}
        for web_id in refused[:NAMED_IN_LOG]:
            log.warning(
                "%s: not registered for Stream Updates (%s); read with recorded, registered again in %s",
                names.get(web_id, web_id),
                getattr(found[web_id], "reason", ""),
                REGISTER_AGAIN_AFTER,
            )
        if len(refused) > NAMED_IN_LOG:
            log.warning("Stream Updates: %d of %d tags not registered", len(refused), len(due))
        self._refused.update({w: now for w in refused})
        self.markers.update(markers)
        until = self._now()
        return [
            dataclasses.replace(t, marker=markers[t.web_id], end=max(t.end, until)) if t.web_id in markers else t
            for t in tasks
        ]

    def _not_offered(self, reason: str) -> None:
        host = self.config.url
        if self.config.read_mode == "updates":
            raise UpdatesRefused(
                f"pi.read_mode: updates, but {host} does not offer Stream Updates ({reason}); use "
                "pi.read_mode: recorded or auto, or a PI Web API 2018 or later"
            )
        log.warning("%s does not offer Stream Updates (%s); pi.read_mode auto reads with recorded", host, reason)
        self.enabled = False


def _note(say, what: str, then: str, tag: Tag, outcome: Lost | Unanswered, count: int) -> None:
    if count <= NAMED_IN_LOG:
        say("%s: %s (%s); %s", tag.name, what, outcome.reason, then)


def window(tag: Tag, position: dt.datetime, until: dt.datetime, retrieved: Retrieved) -> WindowTask | None:
    """What one tag's retrieve becomes (see the module's docstring): a window of the values delivered, a
    ``recorded`` window from the earliest instant touched, or nothing yet for a quiet tag."""
    events = [e for e in retrieved.events if isinstance(e, dict)]
    if not events and until - position < QUIET_ADVANCE:
        return None
    instants = [_instant(e) for e in events]
    known = [at for at in instants if at is not None]
    end = max([until, *(_reach(e, at) for e, at in zip(events, instants) if at is not None)])
    base = WindowTask.of(tag, position, end, position)
    delivered = all(e.get("Action") == "Add" and at is not None and position < at for e, at in zip(events, instants))
    if delivered and len(events) == len(retrieved.events):
        return dataclasses.replace(base, marker=retrieved.marker, events=tuple(events))
    return dataclasses.replace(base, start=min([position, *known]), marker=retrieved.marker)


def _reach(event: dict, at: dt.datetime) -> dt.datetime:
    """``at``, the event's instant, rounded up to the microsecond when its timestamp is finer (PI stamps to
    100 ns, a datetime keeps microseconds): a window that ends at a delivered value must hold it when it is
    read with ``recorded``, and a recorded read ending at the truncated instant would leave it out."""
    fraction = re.search(r"\.(\d+)", str(event.get("Timestamp", "")))
    finer = fraction is not None and fraction.group(1)[6:].strip("0")
    return at + dt.timedelta(microseconds=1) if finer else at


def _instant(event: dict) -> dt.datetime | None:
    raw = event.get("Timestamp")
    try:
        return parse_pi_timestamp(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
