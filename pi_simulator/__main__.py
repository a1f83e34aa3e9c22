"""``python -m pi_simulator serve --port PORT --tags N --seed S [--basic-auth USER:PASS] [--tls DIR]
[--kerberos-keytab FILE]``"""

from __future__ import annotations

import argparse
import os
import sys

from .auth import KerberosAcceptor
from .faults import FaultPlan
from .model import Archive
from .server import SimulatorServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pi_simulator", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve a simulated PI Web API under http://HOST:PORT/piwebapi")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8420)
    serve.add_argument("--tags", type=int, default=200, help="number of PI points (default 200)")
    serve.add_argument("--seed", type=int, default=42)
    serve.add_argument("--server-name", default="PISIM", help="PI Data Archive name")
    serve.add_argument("--basic-auth", metavar="USER:PASS", help="require HTTP Basic authentication")
    serve.add_argument(
        "--max-items-per-call",
        type=int,
        default=150_000,
        help="MaxReturnedItemsPerCall (default 150000, as on a real server)",
    )
    serve.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="added to every HTTP request, to model a remote server (default 0)",
    )
    serve.add_argument("--max-concurrency", type=int, default=64, help="requests served at once (default 64)")
    serve.add_argument(
        "--segment-cache",
        type=int,
        default=8192,
        help="generated point-hours kept in memory, about 1.5 KB each (default 8192)",
    )
    serve.add_argument(
        "--updates-cache-seconds",
        type=float,
        default=900.0,
        help="how long a Stream Updates registration lives unused (default 900, PI Web API's cache expiry)",
    )
    serve.add_argument(
        "--stats",
        metavar="FILE",
        help="on SIGUSR1, write the requests and batch sub-requests answered so far to FILE (JSON; benchmarks)",
    )
    serve.add_argument(
        "--faults",
        default="",
        metavar="PLAN",
        help="inject faults, e.g. seed=7,http=0.1,sub=0.05,kinds=500+429+reset,failing=TAG1+TAG2 "
        "(see pi_simulator/faults.py)",
    )
    serve.add_argument(
        "--tls",
        metavar="DIR",
        help="serve HTTPS with a throwaway CA written to DIR (clients trust DIR/ca.pem through pi.tls.ca_bundle)",
    )
    serve.add_argument(
        "--kerberos-keytab",
        metavar="FILE",
        help="accept Kerberos (Negotiate) for the service "
        "principals in this keytab (HTTP/host@REALM; KRB5_CONFIG names the realm)",
    )
    args = parser.parse_args(argv)
    try:
        faults = FaultPlan.parse(args.faults) if args.faults else None
    except (ValueError, TypeError) as exc:
        parser.error(f"--faults: {exc}")
    auth = None
    if args.basic_auth:
        user, sep, password = args.basic_auth.partition(":")
        if not sep:
            parser.error("--basic-auth must be USER:PASS")
        auth = (user, password)
    archive = Archive(
        seed=args.seed, n_points=args.tags, server_name=args.server_name, segment_cache=args.segment_cache
    )
    tls = None
    if args.tls:
        from .tls import TestPKI

        tls = TestPKI.create(args.tls, hosts=tuple(dict.fromkeys((args.host, "127.0.0.1", "localhost"))))
        print(f"HTTPS: the test CA is {tls.ca_cert} (pi.tls.ca_bundle)", flush=True)
    kerberos = None
    if args.kerberos_keytab:
        if not os.path.isfile(args.kerberos_keytab):
            parser.error(f"--kerberos-keytab: file not found: {args.kerberos_keytab}")
        kerberos = KerberosAcceptor(args.kerberos_keytab)
    server = SimulatorServer(
        archive,
        args.host,
        args.port,
        basic_auth=auth,
        kerberos=kerberos,
        max_items_per_call=args.max_items_per_call,
        latency_ms=args.latency_ms,
        max_concurrency=args.max_concurrency,
        faults=faults,
        tls=tls,
        updates_cache_s=args.updates_cache_seconds,
    )
    print(f"PI Web API simulator: {server.url} ({args.tags} points, seed {args.seed})", flush=True)
    if args.stats:
        import json
        import signal

        stats = args.stats

        def write_stats(*_):
            with open(stats + ".tmp", "w", encoding="utf-8") as out:
                json.dump(server.api.counts(), out)
            os.replace(stats + ".tmp", stats)

        signal.signal(signal.SIGUSR1, write_stats)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
