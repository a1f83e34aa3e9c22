"""Build the wheel a Databricks pipeline installs (``databricks bundle deploy`` runs this as its artifact
build): a clean ``dist/`` that holds exactly this build, with a version that changes at every build.

Databricks caches a pipeline's Python environment by its dependencies: a wheel re-deployed under the same
version can meet the cached install of the previous one, so the new code would not run. Every build
therefore gets a PEP 440 local version, ``0.1.0+<UTC time>``. A stale wheel or ``build/`` tree left in
the project would otherwise be uploaded or packaged again, so both are removed first.

    python scripts/build_wheel.py        # -> dist/osipi_lakeflow-<version>+<yyyymmddhhmmss>-py3-none-any.whl
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build(root: Path = ROOT, stamp: str | None = None) -> Path:
    for stale in ("dist", "build"):
        shutil.rmtree(root / stale, ignore_errors=True)
    stamp = stamp or dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S")
    env = {**os.environ, "OSIPI_BUILD": stamp}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", "dist", "."],
                   cwd=root, env=env, check=True)
    shutil.rmtree(root / "build", ignore_errors=True)
    (wheel,) = (root / "dist").glob("*.whl")
    return wheel


if __name__ == "__main__":
    print(build())
