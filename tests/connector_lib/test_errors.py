"""The one retry rule, without HTTP: which failures are tried again, how long each wait is, and how a
server's ``Retry-After`` (seconds or an HTTP date) stretches it."""

import datetime as dt

import pytest

from connector_lib.errors import is_transient_status, retry_after_seconds, retry_delay, should_retry

NOW = dt.datetime(2026, 12, 1, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_throttling_and_server_failures_are_transient(status):
    assert is_transient_status(status)


@pytest.mark.parametrize("status", [200, 400, 401, 403, 404, 409, 501, None, "503"])
def test_other_statuses_are_permanent(status):
    assert not is_transient_status(status)


def test_a_transient_failure_is_retried_until_the_retries_are_used_up():
    assert [should_retry(True, attempt, 3) for attempt in range(5)] == [True, True, True, False, False]
    assert not should_retry(False, 0, 3)
    assert not should_retry(True, 0, 0)


def test_the_wait_doubles_with_each_attempt():
    assert [retry_delay(True, attempt, 4, 0.5) for attempt in range(5)] == [0.5, 1.0, 2.0, 4.0, None]
    assert retry_delay(False, 0, 4, 0.5) is None


def test_retry_after_in_seconds_lengthens_the_wait_but_never_shortens_it():
    assert retry_delay(True, 0, 3, 1.0, "7") == 7.0
    assert retry_delay(True, 3 - 1, 3, 1.0, "2") == 4.0  # the backoff (4 s) is already longer


def test_retry_after_as_an_http_date_counts_from_now():
    assert retry_after_seconds("Tue, 01 Dec 2026 12:00:30 GMT", NOW) == 30.0
    assert retry_delay(True, 0, 3, 1.0, "Tue, 01 Dec 2026 12:00:30 GMT", NOW) == 30.0
    assert retry_after_seconds("Tue, 01 Dec 2026 11:59:00 GMT", NOW) == 0.0  # already past: no extra wait


@pytest.mark.parametrize("header", [None, "", "  ", "soon", "-5", "1.5"])
def test_an_absent_or_unreadable_retry_after_leaves_the_backoff(header):
    assert retry_after_seconds(header, NOW) is None
    assert retry_delay(True, 1, 3, 1.0, header, NOW) == 2.0
