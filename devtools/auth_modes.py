"""``python -m devtools.auth_modes``: one pipeline, one update per authentication mode, all over HTTPS.

Starts a throwaway Kerberos realm (a real MIT KDC) and the simulator serving HTTPS with a test CA and
accepting every mode at once, then runs the real pipeline on local Spark Declarative Pipelines with one
triggered update per mode: Basic, bearer from the OAuth 2.0 client-credentials flow, a static bearer token,
Kerberos with a password, Kerberos with a keytab; then one with a wrong Kerberos password, which must fail
saying so. After each update it prints the reconciliation of silver with the simulator's ground truth,
which scheme the server let the requests in with, and the ``explain()`` of the mode's data source plan.

The secrets come from the environment, as local runs give them (``env:VAR`` settings):
``OSIPI_BASIC_PASSWORD``, ``OSIPI_CLIENT_SECRET``, ``OSIPI_STATIC_TOKEN``, ``OSIPI_KERBEROS_PASSWORD``
(random ones when unset). Logs are verbose on purpose (Python at DEBUG to stderr, in the Spark workers too through
``pi.log_level``; Spark at INFO to ``spark.log``) and
Spark's scratch space lives under the work directory: tests/e2e/test_auth_modes.py runs this with canary secrets
and searches everything it printed and wrote for them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import secrets
import shutil
import sys
import time
import warnings
from pathlib import Path

from .local_pipeline import REPO, LocalPipeline, session_conf

SECRET_VARIABLES = ("OSIPI_BASIC_PASSWORD", "OSIPI_CLIENT_SECRET", "OSIPI_STATIC_TOKEN", "OSIPI_KERBEROS_PASSWORD")
#: mode -> (its settings, the scheme the server must have accepted its requests with)
MODES = {
    "basic": (
        {"pi.auth.type": "basic", "pi.auth.username": "svc_pi", "pi.auth.password": "env:OSIPI_BASIC_PASSWORD"},
        "basic",
    ),
    "bearer-client-credentials": (
        {
            "pi.auth.type": "bearer",
            "pi.auth.token_url": "{token_url}",
            "pi.auth.client_id": "osipi",
            "pi.auth.client_secret": "env:OSIPI_CLIENT_SECRET",
        },
        "bearer",
    ),
    "bearer-static-token": ({"pi.auth.type": "bearer", "pi.auth.token": "env:OSIPI_STATIC_TOKEN"}, "bearer"),
    "kerberos-password": (
        {
            "pi.auth.type": "kerberos",
            "pi.auth.username": "{principal}",
            "pi.auth.password": "env:OSIPI_KERBEROS_PASSWORD",
            "pi.auth.kerberos_config": "{krb5_conf}",
        },
        "negotiate",
    ),
    "kerberos-keytab": (
        {
            "pi.auth.type": "kerberos",
            "pi.auth.username": "{principal}",
            "pi.auth.kerberos_keytab": "{keytab}",
            "pi.auth.kerberos_config": "{krb5_conf}",
        },
        "negotiate",
    ),
}
#: the update that must fail: a wrong password (the right one with a prefix, so it holds the canary)
WRONG = {
    "pi.auth.type": "kerberos",
    "pi.auth.username": "{principal}",
    "pi.auth.password": "env:OSIPI_WRONG_PASSWORD",
    "pi.auth.kerberos_config": "{krb5_conf}",
}
WRONG_SAYS = "kerberos: cannot log in as {principal}: "


def _say(text: str = "") -> None:
    print(text, flush=True)


def explain(spark, configuration: dict[str, str]) -> str:
    """The extended ``explain()`` of the mode's data source plan (the options Spark shows)."""
    from connector_lib.config import PIConfig
    from connector_lib.spark.datasource import PIDataSource, reader_options

    spark.dataSource.register(PIDataSource)
    frame = spark.readStream.format("pi").options(**reader_options(PIConfig.from_mapping(configuration))).load()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        frame.explain(extended=True)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.auth_modes", description=__doc__)
    parser.add_argument("--work-dir", default=str(REPO / ".work" / "auth_modes"))
    parser.add_argument("--tags", type=int, default=12)
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated, in order (default: all)")
    parser.add_argument(
        "--secrets-as-values",
        action="store_true",
        help="put the secrets' values in the pipeline configuration, as Databricks does with a "
        "{{secrets/scope/key}} reference, instead of env:VAR (docs/security.md says what "
        "open-source Spark then logs)",
    )
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f"--modes: unknown mode {unknown[0]} (known: {', '.join(MODES)})")
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.INFO)
    for name in SECRET_VARIABLES:
        os.environ.setdefault(name, secrets.token_urlsafe(16))
    os.environ["OSIPI_WRONG_PASSWORD"] = "wrong-" + os.environ["OSIPI_KERBEROS_PASSWORD"]

    from pi_simulator import Archive, SimulatorServer
    from pi_simulator.auth import KerberosAcceptor, TokenIssuer
    from pi_simulator.kerberos import TestRealm
    from pi_simulator.tls import TestPKI

    from .reconcile import reconcile

    work = Path(args.work_dir).resolve()
    shutil.rmtree(work, ignore_errors=True)
    (work / "scratch").mkdir(parents=True)
    (work / "tmp").mkdir()
    os.environ["TMPDIR"] = str(work / "tmp")  # the Python workers' temporary files, searched too
    os.environ["KRB5CCNAME"] = f"FILE:{work / 'default-ccache'}"  # where tickets would land if not in memory
    realm = TestRealm.create(client_password=os.environ["OSIPI_KERBEROS_PASSWORD"])
    pki = TestPKI.create(work / "pki")
    archive = Archive(seed=23, n_points=args.tags)
    issuer = TokenIssuer(
        client_id="osipi",
        client_secret=os.environ["OSIPI_CLIENT_SECRET"],
        static_tokens=frozenset({os.environ["OSIPI_STATIC_TOKEN"]}),
    )
    server = SimulatorServer(
        archive,
        tls=pki,
        basic_auth=("svc_pi", os.environ["OSIPI_BASIC_PASSWORD"]),
        bearer=issuer,
        kerberos=KerberosAcceptor(realm.service_keytab),
    ).start()
    fill = {
        "token_url": server.token_url,
        "principal": realm.client_principal,
        "keytab": realm.client_keytab,
        "krb5_conf": realm.krb5_conf,
    }
    base = {
        "pi.url": server.url,
        "pi.tls.ca_bundle": str(pki.ca_cert),
        "pi.backfill_start": "*-40m",
        "pi.settle_lag": "2s",
        "pi.lookback": "10m",
        "pi.tags_per_request": "4",
        "pi.log_level": "debug",
    }
    java_options = (
        session_conf(work / "pipeline")["spark.driver.extraJavaOptions"].replace(
            "log4j2.properties", "log4j2-info.properties"
        )
        + f" -Dosipi.spark.log={work / 'spark.log'} "
        f"-Djava.io.tmpdir={work / 'tmp'}"
    )
    pipeline = LocalPipeline(
        work / "pipeline",
        base,
        spark_conf={"spark.driver.extraJavaOptions": java_options, "spark.local.dir": str(work / "scratch")},
    )
    _say(
        f"simulator {server.url} (HTTPS, test CA {pki.ca_cert}); Kerberos realm {realm.client_principal.split('@')[1]}"
    )
    status = 0
    try:
        for mode in modes:
            settings, scheme = MODES[mode]
            settings = {k: v.format(**fill) for k, v in settings.items()}
            if args.secrets_as_values:
                settings = {k: os.environ[v[4:]] if v.startswith("env:") else v for k, v in settings.items()}
            started = time.monotonic()
            pipeline.configuration = {**base, **settings}
            before = server.auth.accepted.copy()
            result = pipeline.update()
            for message in result.events:
                _say(f"  event: {message}")
            let_in = dict(server.auth.accepted - before)
            _say(
                f"MODE {mode}: update {'ok' if result.ok else 'FAILED: ' + str(result.error)} in "
                f"{time.monotonic() - started:.1f}s; "
                f"requests accepted by scheme {let_in}"
            )
            rec = reconcile(pipeline.spark, archive)
            _say(f"MODE {mode}: {rec.line()}")
            plan = explain(pipeline.spark, pipeline.configuration)
            _say(plan)
            exact = result.ok and rec.exact and rec.truth > 0
            if not exact or set(let_in) != {scheme}:
                status = 1
                _say(f"MODE {mode}: NOT OK (want every request accepted as {scheme}, silver equal to the truth)")
        pipeline.configuration = {**base, **{k: v.format(**fill) for k, v in WRONG.items()}}
        result = pipeline.update()
        says = WRONG_SAYS.format(**fill)
        found = next((line.strip() for line in str(result.error).splitlines() if says in line), None)
        _say(f"WRONG PASSWORD: update {'FAILED' if not result.ok else 'ok'}; the error says: {found}")
        status = status if not result.ok and found else 1
    finally:
        pipeline.stop()
        server.stop()
        realm.stop()
    tickets_on_disk = (work / "default-ccache").exists()
    _say(f"tickets written to the default ticket cache: {'yes' if tickets_on_disk else 'no'}")
    return 1 if tickets_on_disk else status


if __name__ == "__main__":
    sys.exit(main())
