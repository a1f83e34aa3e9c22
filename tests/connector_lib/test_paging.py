"""The two pagers without HTTP: index pages until a short one, and time pages that never split the values
of one timestamp, grow past a run of one timestamp, and stop when even the largest page cannot."""

import pytest

from connector_lib.paging import PagingStuck, TimePager, index_pages


def test_index_pages_ask_until_a_short_page():
    items = list(range(25))
    asked = []

    def fetch(start, count):
        asked.append((start, count))
        return items[start : start + count]

    assert [len(p) for p in index_pages(fetch, 10)] == [10, 10, 5]
    assert asked == [(0, 10), (10, 10), (20, 10)]


def test_an_exact_multiple_ends_with_an_empty_page():
    pages = list(index_pages(lambda start, count: list(range(20))[start : start + count], 10))
    assert [len(p) for p in pages] == [10, 10, 0]


def values(*stamps):
    return [{"Timestamp": s, "Value": i} for i, s in enumerate(stamps)]


def test_a_full_page_holds_back_its_last_timestamp_for_the_next_page():
    pager = TimePager("t0", max_items=100)
    assert pager.size(4) == 4
    page = values("t1", "t2", "t3", "t3")
    assert pager.take(page) == page[:2]
    assert (pager.next_start, pager.finished) == ("t3", False)


def test_a_short_page_is_the_last_and_is_kept_whole():
    pager = TimePager("t0", max_items=100)
    pager.size(4)
    page = values("t3", "t3", "t4")
    assert pager.take(page) == page and pager.finished


def test_a_full_page_of_one_timestamp_doubles_the_next_page_until_the_run_fits():
    pager = TimePager("t0", max_items=100)
    pager.size(2)
    assert pager.take(values("t1", "t1")) == [] and not pager.finished
    assert pager.size(2) == 4  # the run needs more room than the planned size
    assert pager.take(values("t1", "t1", "t1", "t1")) == []
    assert pager.size(2) == 8
    run = values("t1", "t1", "t1", "t1", "t1")
    assert pager.take(run) == run and pager.finished
    assert pager.next_start == "t0"  # nothing read past: the run started where the range did


def test_a_run_larger_than_the_largest_page_stops_the_read():
    pager = TimePager("t0", max_items=4)
    pager.size(4)
    with pytest.raises(PagingStuck, match="more than 4 values share timestamp t1"):
        pager.take(values("t1", "t1", "t1", "t1"))
    assert pager.finished
