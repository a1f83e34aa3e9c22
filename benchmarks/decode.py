"""Decoding recorded-value pages in one process, no HTTP, no Spark: the column-wise path
(``connector_lib.pages``) against the value-by-value path (``connector_lib.values.normalise`` + Arrow from
row tuples), on the same simulator pages, side by side in one run.

    .venv/bin/python -m benchmarks.decode --tags 1000 --window 6h
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson

from connector_lib.pages import PageOf, decode_page, value_batch
from connector_lib.spark.arrow import record_batches
from connector_lib.timeutil import parse_duration
from connector_lib.values import normalise
from pi_simulator import Archive
from pi_simulator.render import timed_values
from pi_simulator.truth import to_ticks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--window", default="6h")
    parser.add_argument("--per-call", type=int, default=100, help="pages decoded together (one batch call)")
    args = parser.parse_args()
    archive = Archive(seed=42, n_points=args.tags)
    end = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    start = end - parse_duration(args.window)
    pages = [
        orjson.loads(orjson.dumps(timed_values(p, archive.events(p, to_ticks(start), to_ticks(end)))))
        for p in archive.points
    ]
    n = sum(map(len, pages))
    constants = {
        "web_id": "W",
        "tag": "T",
        "window_start": start,
        "window_end": end,
        "prior_watermark": None,
        "point_type": "Float32",
        "digital_set": "",
    }

    def careful() -> int:
        rows = (
            ("value", "W", "T", 0) + normalise(item) + (start, end, None, None, None, None, "Float32", "", None, end)
            for page in pages
            for item in page
        )
        return sum(b.num_rows for b in record_batches(rows))

    def columnar() -> int:
        total = 0
        for i in range(0, len(pages), args.per_call):
            group = [PageOf(p, decode_page(p, None), constants, None, 0) for p in pages[i : i + args.per_call]]
            batch, _, declined = value_batch(group, end)
            assert not declined
            total += batch.num_rows
        return total

    timings = {}
    for name, fn in (("value by value", careful), ("column-wise", columnar)) * 2:
        started = time.perf_counter()
        assert fn() == n
        timings[name] = min(timings.get(name, 1e9), time.perf_counter() - started)
    print(f"{n:,} values ({args.tags} tags x {args.window}), best of two:")
    for name, seconds in timings.items():
        print(f"  {name:>15}: {seconds:.2f}s, {n / seconds:,.0f} values/s, {1e6 * seconds / n:.2f} us/value")
    print(f"  column-wise is {timings['value by value'] / timings['column-wise']:.1f}x faster")


if __name__ == "__main__":
    main()
