"""Every authentication mode through the real pipeline, in a process of its own whose every output is
searched for the secrets: ``python -m devtools.auth_modes`` runs one update per mode (Basic, bearer from
the client-credentials flow, a static bearer token, Kerberos with a password and with a keytab against a
real KDC), all over HTTPS with the test CA, and reconciles silver with the simulator's ground truth after
each; a last update with a wrong Kerberos password must fail with the connector's one line. Its logs are
verbose on purpose (Python at DEBUG, Spark at INFO), and Spark's scratch space and temporary directories
live under its work directory, so a secret written to a log, a plan, a table, an event or a temporary file
is found here."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devtools.auth_modes import MODES, SECRET_VARIABLES
from pi_simulator.kerberos import missing_programs
from tests.conftest import REPO

CANARIES = dict(
    zip(SECRET_VARIABLES, ("canary-Basic-0d4f17", "canary-Client-8e21c3", "canary-Token-5b9a40", "canary-Krb-77e2d5"))
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    if missing_programs():
        pytest.skip(
            f"the MIT Kerberos KDC is not installed ({', '.join(missing_programs())} missing): "
            f"scripts/bootstrap.sh installs it with apt"
        )
    work = tmp_path_factory.mktemp("auth_modes")
    output = work / "output.txt"
    with output.open("w") as out:
        done = subprocess.run(
            [sys.executable, "-m", "devtools.auth_modes", "--work-dir", str(work / "run")],
            cwd=REPO,
            env={**os.environ, **CANARIES},
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=900,
        )
    _wait_for_processes_using(work)
    return done.returncode, output.read_text(errors="replace"), work


def _wait_for_processes_using(work, timeout_s: float = 60.0) -> None:
    """The child's JVM outlives it by a moment (it deletes its temporary files as it exits): the files are
    searched once no process names the work directory on its command line."""
    deadline = time.monotonic() + timeout_s
    marker = str(work).encode()
    while time.monotonic() < deadline:
        alive = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if marker in cmdline.read_bytes():
                    alive.append(cmdline.parent.name)
            except OSError:  # the process ended while we looked
                continue
        if not alive:
            return
        time.sleep(0.5)
    pytest.fail(f"processes still use {work} after {timeout_s:.0f} s: {alive}")


def test_every_mode_reads_the_ground_truth_through_the_pipeline(run):
    code, text, _ = run
    for mode, (_, scheme) in MODES.items():
        accepted = re.search(
            rf"^MODE {mode}: update ok in [0-9.]+s; requests accepted by scheme "
            rf"\{{'{scheme}': (\d+)\}}$",
            text,
            re.MULTILINE,
        )
        assert accepted and int(accepted.group(1)) > 0, f"{mode} did not complete with {scheme} only"
        rec = re.search(
            rf"^MODE {mode}: RECONCILE silver=(\d+) truth=(\d+) missing=0 duplicated=0$", text, re.MULTILINE
        )
        assert rec and rec.group(1) == rec.group(2) and int(rec.group(2)) > 100, f"{mode}: silver is not the truth"
    assert "tickets written to the default ticket cache: no" in text  # Kerberos tickets stay in memory
    wrong = re.search(r"^WRONG PASSWORD: update FAILED; the error says: (.*)$", text, re.MULTILINE)
    assert wrong and re.search(
        r"^preflight failed at 'server' \(127\.0\.0\.1:\d+\): GET /piwebapi/system: kerberos: cannot log in as "
        r"svc-osipi@OSIPI.TEST: [A-Za-z ]+; check pi.auth.username, pi.auth.password and "
        r"pi.auth.kerberos_config$",
        wrong.group(1),
    ), wrong and wrong.group(1)
    assert code == 0, text[-3000:]


def test_no_secret_in_any_output_log_or_file(run):
    code, text, work = run
    spark_log = work / "run" / "spark.log"
    assert spark_log.stat().st_size > 1_000_000 and " INFO " in spark_log.read_text()  # the verbose log was written
    assert re.search(r"DEBUG urllib3.connectionpool: https://127.0.0.1:\d+ \"POST /piwebapi/batch", text)  # workers
    assert "Negotiate Y" not in text  # no Kerberos authenticator either (requests-kerberos logs it at debug)
    canaries = [c.encode() for c in CANARIES.values()]
    assert not [c for c in canaries if c in text.encode()]
    files = [p for p in (work / "run").rglob("*") if p.is_file()]
    assert len(files) > 100  # tables, checkpoints, event logs, the metastore, Spark's scratch space
    leaked = [str(p) for p in files if any(c in p.read_bytes() for c in canaries)]
    assert leaked == []
