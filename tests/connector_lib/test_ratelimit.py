"""The request-rate limit: calls spaced 1/rate apart across threads, shared out over partitions."""

import threading

import pytest

from connector_lib.config import ConfigError, PIConfig
from connector_lib.plan import WindowTask
from connector_lib.ratelimit import RateLimiter
from connector_lib.spark.datasource import partitions


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept = []
        self.lock = threading.Lock()

    def clock(self):
        return self.now

    def sleep(self, seconds):
        with self.lock:
            self.slept.append(round(seconds, 9))


def test_calls_are_spaced_by_the_rate():
    fake = FakeClock()
    limiter = RateLimiter(4.0, fake.clock, fake.sleep)
    for _ in range(5):
        limiter.acquire()
    # the first call goes at once; the next four wait for their slots 0.25 s apart
    assert fake.slept == [0.25, 0.5, 0.75, 1.0]
    fake.now = 200.0  # after a quiet period no debt is carried over
    limiter.acquire()
    assert fake.slept[-1] == 1.0 and len(fake.slept) == 4


def test_threads_share_one_limiter():
    fake = FakeClock()
    limiter = RateLimiter(10.0, fake.clock, fake.sleep)
    threads = [threading.Thread(target=limiter.acquire) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(fake.slept) == [round(0.1 * i, 9) for i in range(1, 8)]


def test_no_limit_never_sleeps():
    fake = FakeClock()
    limiter = RateLimiter(0, fake.clock, fake.sleep)
    for _ in range(100):
        limiter.acquire()
    assert fake.slept == []


def test_partitions_split_the_global_rate():
    import datetime as dt
    import json

    config = PIConfig.from_mapping(
        {"pi.url": "http://h/piwebapi", "pi.max_requests_per_second": "12", "pi.partitions": "3"}
    )
    now = dt.datetime.now(dt.UTC)
    tasks = [WindowTask(f"W{i}", f"T{i}", now, now) for i in range(9)]
    parts = partitions(tasks, config)
    assert len(parts) == 3
    assert [json.loads(p.value)["rate"] for p in parts] == [4.0, 4.0, 4.0]
    assert sorted(t[0] for p in parts for t in json.loads(p.value)["tasks"]) == sorted(f"W{i}" for i in range(9))


@pytest.mark.parametrize("bad", ["-1", "fast", "nan"])
def test_bad_rate_setting_names_the_key(bad):
    with pytest.raises(ConfigError, match=r"^pi.max_requests_per_second: "):
        PIConfig.from_mapping({"pi.url": "http://h/piwebapi", "pi.max_requests_per_second": bad})
