"""The preflight check: what an update needs from the PI Web API, tried in order before anything is read.

A wrong URL, a certificate the machine does not trust, refused credentials, a data server name that does
not exist or a tag filter that matches nothing otherwise surfaces deep inside a Spark job, as a stack
trace hundreds of lines long. Here each step is one request, and a failure is one line naming the step,
the host, the reason and the setting to change. ``make run`` runs every step before Spark starts, each
request made once (it reports; it does not wait out an outage); each update runs the first two as its
pipeline's files load, with the configured retries (a moment's outage does not fail it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Iterator
from urllib.parse import urlsplit

from .client import PIWebAPIClient
from .config import ConfigError, PIConfig
from .discovery import Tag, data_server, discover_tags
from .errors import AuthError, PIWebAPIError
from .settings import KNOWN_KEYS

log = logging.getLogger(__name__)
#: the steps, in the order they run (each needs the one before it)
STEPS = ("server", "data server", "tags", "read")
#: how far back the one small read looks for a value
READ_SPAN = dt.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class Passed:
    """A step that passed and what it found (shown to the user)."""

    step: str
    found: str


class PreflightFailed(Exception):
    """A step that failed: one line with the step, the host, the reason and the setting to change."""

    def __init__(self, step: str, host: str, reason: str):
        super().__init__(f"preflight failed at '{step}' ({host}): {reason}")
        self.step = step
        self.host = host
        self.reason = reason


def host_of(config: PIConfig) -> str:
    return urlsplit(config.url).netloc or config.url


def preflight(config: PIConfig, through: str = STEPS[-1], retries: bool = False) -> list[Passed]:
    """Run the steps up to and including ``through``; returns what each found, or raises
    :class:`PreflightFailed` at the first failure. ``retries``: with the configured HTTP retries (the
    pipeline's start, where a moment's outage should not fail the update); by default each request is made
    once (``make run`` and the CLI report at once)."""
    if through not in STEPS:
        raise ValueError(f"through: one of {', '.join(STEPS)}, got {through!r}")
    last = STEPS.index(through)
    client = PIWebAPIClient(config if retries else dataclasses.replace(config, max_retries=0))
    found: list[Passed] = []
    try:
        for passed in _steps(config, client, host_of(config)):
            log.info("preflight %s: %s", passed.step, passed.found)
            found.append(passed)
            if len(found) > last:
                break
    finally:
        client.session.close()
    return found


def _steps(config: PIConfig, client: PIWebAPIClient, host: str):
    with _step("server", host):
        system = client.get("system") or {}
    product = " ".join(str(system.get(k)) for k in ("ProductTitle", "ProductVersion") if system.get(k))
    yield Passed("server", f"{host} answered" + (f": {product}" if product else ""))

    with _step("data server", host):
        server = data_server(client, config)
    yield Passed("data server", str(server.get("Name", "?")))

    with _step("tags", host):
        tags = discover_tags(client, config)
    if not tags:
        selection = f"pi.tags lists {len(config.tags)} names" if config.tags else f"pi.tag_filter {config.tag_filter!r}"
        raise PreflightFailed(
            "tags",
            host,
            f"no tag to read: {selection} matches nothing on {server.get('Name', '?')}"
            + (f" in shard {config.shard_index} of {config.shard_count}" if config.shard_count > 1 else "")
            + " (pi.tags, pi.tag_filter)",
        )
    yield Passed("tags", f"{len(tags)} tags selected, e.g. {tags[0].name}")

    tag = tags[0]
    with _step("read", host, tag):
        values = _one_value(client, tag)
    yield Passed("read", f"{tag.name}: " + (f"latest value at {values}" if values else "no value in the last day"))


def _one_value(client: PIWebAPIClient, tag: Tag) -> str | None:
    """The time of the newest value of ``tag`` within :data:`READ_SPAN` (one value asked for)."""
    answer = client.get(
        f"streams/{tag.web_id}/recorded",
        {"startTime": "*", "endTime": f"*-{int(READ_SPAN.total_seconds())}s", "maxCount": "1"},
    )
    items = answer.get("Items") if isinstance(answer, dict) else None
    if not isinstance(items, list):
        raise PIWebAPIError(f"GET streams/{tag.web_id}/recorded: the answer holds no Items list")
    return str(items[0].get("Timestamp")) if items and isinstance(items[0], dict) else None


@contextlib.contextmanager
def _step(step: str, host: str, tag: Tag | None = None) -> Iterator[None]:
    """Turns the connector's errors inside one step into :class:`PreflightFailed`, with the setting to
    change where the message does not name one already."""
    try:
        yield
    except (PIWebAPIError, AuthError, ConfigError) as exc:
        raise PreflightFailed(step, host, _reason(exc, tag)) from None


def _reason(exc: Exception, tag: Tag | None) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    status = getattr(exc, "status", None)
    if isinstance(exc, ConfigError) or any(key in text for key in KNOWN_KEYS):
        return text  # names its setting already
    if status == 403:
        whose = f"the point {tag.name}" if tag is not None else "the PI Web API"
        return f"{text} (the account of pi.auth.username may not read {whose}: PI point or server security)"
    if status == 404:
        return f"{text} (pi.url must end in /piwebapi)"
    if isinstance(exc, AuthError):
        return f"{text} (pi.auth.type and pi.auth.*)"
    if getattr(exc, "transient", False) and status is None:
        return f"{text} (pi.url)"
    return text
