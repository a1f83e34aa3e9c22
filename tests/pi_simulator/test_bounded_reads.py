"""Searches and reads bounded by their page, not their window: a search of ten years of event frames (of
the database and of one element) and a ten-year recorded read answer their first page having generated
about what the page needs, with a bounded memory, like a server paging from an index. Counted in hours of
archive and frames generated (deterministic), with the peak Python memory of the request."""

from __future__ import annotations

import datetime as dt
import tracemalloc

import pytest

from pi_simulator import Archive
from pi_simulator.api import PiWebApi
from pi_simulator.protocol import Request, parse_query

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
#: the most a first page may take: far below what ten years hold, far above what a page needs
MAX_PEAK_BYTES = 64 * 2**20


@pytest.fixture()
def api():
    return PiWebApi(Archive(seed=3, n_points=120), clock=lambda: NOW)


def ask(api: PiWebApi, path: str, query: str) -> tuple[dict, int]:
    """The answer to GET ``path?query`` and the peak memory the request took."""
    tracemalloc.start()
    try:
        response = api.handle(Request("GET", path, parse_query(query)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status == 200, response.content
    return response.content, peak


def frame_hours(api: PiWebApi) -> int:
    return api.eventframes.frames._hour.cache_info().misses


def database_frames(api: PiWebApi) -> str:
    return f"assetdatabases/{api.assets.database_webid}/eventframes"


@pytest.mark.parametrize("sort", ["Name", "StartTime", "EndTime"])
def test_a_ten_year_database_search_generates_what_its_page_needs(api, sort):
    page, peak = ask(api, database_frames(api), f"startTime=*-3650d&endTime=*&maxCount=100&sortField={sort}")
    assert len(page["Items"]) == 100
    ten_years = 3650 * 24
    assert frame_hours(api) < ten_years / 5, frame_hours(api)
    assert peak < MAX_PEAK_BYTES, peak


def test_a_ten_year_search_of_one_elements_frames_generates_what_its_page_needs(api):
    state = api.assets.model.state(api.ctx.now())
    pump = next(e for e in state.elements.values() if e.name == "P-001")
    wid = api.assets.element_webid(state, pump.id)
    page, peak = ask(api, f"elements/{wid}/eventframes", "startTime=*-3650d&endTime=*")
    assert len(page["Items"]) == 1000  # the default maxCount
    assert frame_hours(api) < 3650 * 24 / 2
    assert peak < MAX_PEAK_BYTES, peak


def test_the_next_page_of_a_long_search_follows_the_first(api):
    query = "startTime=*-3650d&endTime=*&maxCount=50&sortField=StartTime"
    first, _ = ask(api, database_frames(api), query)
    second, _ = ask(api, database_frames(api), query + "&startIndex=50")
    both, _ = ask(api, database_frames(api), "startTime=*-3650d&endTime=*&maxCount=100&sortField=StartTime")
    assert [i["Id"] for i in first["Items"] + second["Items"]] == [i["Id"] for i in both["Items"]]
    starts = [i["StartTime"] for i in both["Items"]]
    assert starts == sorted(starts)


def test_a_ten_year_recorded_read_generates_what_its_page_needs(api):
    point = next(p for p in api.archive.points if p.point_type == "Float64")
    wid = api.point_webid(point)
    for query in ("startTime=*-3650d&endTime=*&maxCount=1000", "startTime=*&endTime=*-3650d&maxCount=1000"):
        before = api.archive._segment.cache_info().misses
        page, peak = ask(api, f"streams/{wid}/recorded", query)
        assert len(page["Items"]) == 1000
        assert api.archive._segment.cache_info().misses - before < 100  # hours of archive generated
        assert peak < MAX_PEAK_BYTES, peak
