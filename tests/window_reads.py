"""One window of every discovered tag read through the connector, and the simulator's truth for it, both
keyed (tag, timestamp, sequence): what the authentication and TLS tests compare, whatever the mode."""

from __future__ import annotations

import datetime as dt

from connector_lib.client import PIWebAPIClient
from connector_lib.config import PIConfig
from connector_lib.discovery import discover_tags
from connector_lib.extract import BRONZE_COLUMNS, iter_rows, read_windows
from connector_lib.plan import WindowTask
from pi_simulator import Archive, truth

COLS = [name for name, _ in BRONZE_COLUMNS]


def past_window(minutes: int) -> tuple[dt.datetime, dt.datetime]:
    """``minutes`` ending at the last full hour but one: settled history, the same for every test."""
    end = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    return end - dt.timedelta(minutes=minutes), end


def read_rows(cfg: PIConfig, start: dt.datetime, end: dt.datetime) -> list[dict]:
    """Every bronze row of the window, read with a new client (so with the configured authentication)."""
    client = PIWebAPIClient(cfg)
    tasks = [
        WindowTask(t.web_id, t.name, start, end, None, t.point_type, t.digital_set) for t in discover_tags(client, cfg)
    ]
    return [dict(zip(COLS, r)) for r in iter_rows(read_windows(client, cfg, tasks))]


def value_keys(rows: list[dict]) -> set:
    return {(r["tag"], r["timestamp"], r["sequence"]) for r in rows if r["record_kind"] == "value"}


def truth_keys(archive: Archive, start: dt.datetime, end: dt.datetime, names=None) -> set:
    return {
        (t["tag"], t["timestamp"], t["sequence"])
        for p in archive.points
        if names is None or p.name in names
        for t in truth.recorded(archive, p.name, start, end)
    }
