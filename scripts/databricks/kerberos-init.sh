#!/bin/bash
# Cluster init script of the classic targets (databricks.yml, dev_classic and prod_classic): the MIT
# Kerberos libraries and headers that requests-kerberos' GSSAPI bindings are built against when the
# pipeline installs its Python dependencies, and the client tools (kinit, klist) to check a login by hand
# from the cluster's web terminal. The realm's krb5.conf stays in a volume (pi.auth.kerberos_config): the
# connector points each of its processes at it, so /etc/krb5.conf is left as it is.
set -euo pipefail
if ! dpkg -s libkrb5-dev krb5-user gcc >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libkrb5-dev krb5-user gcc >/dev/null
fi
