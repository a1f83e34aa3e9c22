#!/usr/bin/env bash
# Prepare a fresh machine for `make run` / `make test`: a Java runtime, the Kerberos headers that
# requests-kerberos' GSSAPI bindings build against, an MIT Kerberos KDC and client tools (the tests create
# throwaway realms with them), and a virtualenv with the pinned local stack.
# Idempotent: re-runs only when pyproject.toml changed. Delta Lake's jars come later, through Spark
# (spark.jars.packages), on the first Spark start.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

need_apt=()  # required
kdc_apt=()   # wanted: without a KDC the Kerberos tests skip, saying why
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v krb5-config >/dev/null 2>&1 || need_apt+=(libkrb5-dev gcc)
PATH="$PATH:/usr/sbin:/sbin" command -v krb5kdc >/dev/null 2>&1 || kdc_apt+=(krb5-kdc krb5-admin-server)
command -v kinit >/dev/null 2>&1 || kdc_apt+=(krb5-user)
all_apt=("${need_apt[@]}" "${kdc_apt[@]}")
if [ ${#all_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO=none; fi
  if [ "$SUDO" = none ] || ! command -v apt-get >/dev/null 2>&1; then
    if [ ${#need_apt[@]} -gt 0 ]; then
      echo "bootstrap: cannot install ${need_apt[*]} (needs apt-get and root or sudo)." >&2
      echo "bootstrap: install a Java 17 runtime and the MIT Kerberos development headers, then re-run." >&2
      exit 1
    fi
    echo "bootstrap: cannot install ${kdc_apt[*]} (needs apt-get and root or sudo): the Kerberos tests will skip" >&2
  else
    echo "bootstrap: installing system packages: ${all_apt[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${all_apt[@]}" >/dev/null
  fi
fi

if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "bootstrap: Python >= 3.11 is required ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
stamp="$VENV/.osipi-installed"
want=$(sha256sum < pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: installing Python packages into $VENV (first time: a few minutes, pyspark is large)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[dev]"
  echo "$want" > "$stamp"
fi
