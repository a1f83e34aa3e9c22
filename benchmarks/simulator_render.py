"""How fast the simulator renders recorded values, in process (no HTTP): values/s.

.venv/bin/python -m benchmarks.simulator_render --tags 1000 --window 1h
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson

from connector_lib.timeutil import parse_duration
from pi_simulator import Archive
from pi_simulator.api import PiWebApi
from pi_simulator.protocol import Request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--window", default="1h")
    args = parser.parse_args()
    archive = Archive(seed=1, n_points=args.tags)
    api = PiWebApi(archive)
    end = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    query = {
        "starttime": [(end - parse_duration(args.window)).isoformat()],
        "endtime": [end.isoformat()],
        "maxcount": ["150000"],
    }
    paths = [f"streams/{api.point_webid(p)}/recorded" for p in archive.points]

    def serve() -> int:
        count = 0
        for path in paths:
            content = api.handle(Request("GET", path, query, b"", "http://bench")).content
            orjson.dumps(content)
            count += len(content["Items"])
        return count

    serve()  # generate and cache the segments: measure rendering, as a warm server does
    started = time.perf_counter()
    values = serve()
    seconds = time.perf_counter() - started
    print(f"{values} values rendered and encoded in {seconds:.2f}s: {values / seconds:,.0f} values/s")


if __name__ == "__main__":
    main()
