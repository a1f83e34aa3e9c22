"""Build the wheel a Databricks pipeline installs (``databricks bundle deploy`` runs this as its artifact
build): a clean ``dist/`` that holds exactly this build, with a version that changes at every build.

Databricks caches a pipeline's Python environment by its dependencies: a wheel re-deployed under the same
version can meet the cached install of the previous one, so the new code would not run. Every build
therefore gets a PEP 440 local version, ``0.1.0+<UTC time>``, written into a copy of ``pyproject.toml``
that the build runs from. A stale wheel or ``build/`` tree left in the project would otherwise be uploaded
or packaged again, so both are removed first.

    python scripts/build_wheel.py        # -> dist/osipi_lakeflow-<version>+<yyyymmddhhmmss>-py3-none-any.whl
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# what the wheel is built from: the build happens in a copy, so the project tree gets no build/ or egg-info
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "connector_lib", "expectations")


def build(root: Path = ROOT, stamp: str | None = None) -> Path:
    for stale in ("dist", "build"):
        shutil.rmtree(root / stale, ignore_errors=True)
    stamp = stamp or dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    if not re.fullmatch(r"[0-9A-Za-z.]+", stamp):
        raise SystemExit(f"build stamp: letters, digits and dots only (a PEP 440 local version), got {stamp!r}")
    with tempfile.TemporaryDirectory(prefix="osipi-wheel-") as tmp:
        source = Path(tmp) / "source"
        source.mkdir()
        for name in SOURCES:
            if (root / name).is_dir():
                shutil.copytree(root / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(root / name, source / name)
        project = (source / "pyproject.toml").read_text(encoding="utf-8")
        stamped, found = re.subn(r'(?m)^version = "([^"+]+)"$', rf'version = "\1+{stamp}"', project, count=1)
        if not found:
            raise SystemExit("pyproject.toml: no version line to stamp")
        (source / "pyproject.toml").write_text(stamped, encoding="utf-8")
        (root / "dist").mkdir()
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(root / "dist"), str(source)],
            check=True,
        )
    (wheel,) = (root / "dist").glob("*.whl")
    return wheel


if __name__ == "__main__":
    print(build())
