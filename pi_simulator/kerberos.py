"""A throwaway MIT Kerberos realm for tests and demos: a real KDC on localhost (from the Debian packages
``krb5-kdc`` and ``krb5-admin-server``, driven by ``k5test``), the simulator's service principals with
their keytab, and a client principal with a password and a keytab.

The realm's ``krb5.conf`` turns off reverse DNS and host name canonicalisation, so the service principal
is ``HTTP/<the host in the URL>`` exactly (``HTTP/127.0.0.1`` for the simulator's URL), as a site's SPN
matches the name clients use.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import socket
from dataclasses import dataclass

REALM = "OSIPI.TEST"
KDC_PROGRAMS = ("krb5kdc", "kdb5_util", "kadmin.local")


def missing_programs() -> list[str]:
    """The MIT KDC programs not installed here (empty when a realm can be created)."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin" + os.pathsep + "/sbin"
    return [name for name in KDC_PROGRAMS if shutil.which(name, path=path) is None]


def _free_portbase() -> int:
    """A base port with the ten ports k5test uses (KDC, kadmind, kpasswd, ...) free for TCP and UDP."""
    for _ in range(50):
        base = random.randrange(20000, 60000, 10)
        try:
            for port in range(base, base + 10):
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    with socket.socket(socket.AF_INET, kind) as sock:
                        sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port range for a test KDC")


@dataclass
class TestRealm:
    """A running realm. ``krb5_conf`` is what clients get as ``pi.auth.kerberos_config``;
    ``service_keytab`` is what the simulator accepts tickets with."""

    __test__ = False  # not a pytest test class

    k5: object  # k5test.K5Realm
    krb5_conf: str
    service_keytab: str
    client_principal: str
    client_password: str
    client_keytab: str

    @classmethod
    def create(
        cls,
        client: str = "svc-osipi",
        client_password: str = "",
        service_hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
    ) -> TestRealm:
        """Start a KDC and add ``HTTP/<host>`` for each service host and the client principal (password
        ``client_password``, or a random one) with a keytab holding its key."""
        import k5test

        logging.getLogger("k5test").setLevel(logging.INFO)  # it logs admin commands, passwords included, at DEBUG
        path = os.environ.get("PATH", "").split(os.pathsep)
        missing = [d for d in ("/usr/sbin", "/sbin") if d not in path]
        os.environ["PATH"] = os.pathsep.join(path + missing)  # k5test looks for the KDC programs on PATH
        k5 = k5test.K5Realm(
            realm=REALM,
            portbase=_free_portbase(),
            create_user=False,
            create_host=False,
            get_creds=False,
            krb5_conf={
                "libdefaults": {
                    "rdns": "false",
                    "dns_canonicalize_hostname": "false",
                    "ticket_lifetime": "10h",
                    "udp_preference_limit": "1",
                }
            },
        )
        service_keytab = os.path.join(k5.tmpdir, "http.keytab")
        for host in service_hosts:
            k5.addprinc(f"HTTP/{host}@{REALM}")
            k5.extract_keytab(f"HTTP/{host}@{REALM}", service_keytab)
        principal = f"{client}@{REALM}"
        password = client_password or k5.password(client)
        k5.addprinc(principal, password)
        client_keytab = os.path.join(k5.tmpdir, f"{client}.keytab")
        k5.extract_keytab(principal, client_keytab)
        return cls(k5, k5.env["KRB5_CONFIG"], service_keytab, principal, password, client_keytab)

    def add_user(self, name: str, password: str, max_life: str = "") -> str:
        """Another client principal (``max_life``, e.g. ``2 minutes``, caps its tickets' lifetime)."""
        principal = f"{name}@{REALM}"
        self.k5.addprinc(principal, password)
        if max_life:
            self.k5.run_kadminl(f'modprinc -maxlife "{max_life}" {principal}')
        return principal

    def kinit(self, ccache: str, principal: str, password: str) -> None:
        """Log in with the command line tools into ``ccache`` (a FILE: cache), as a user on a workstation."""
        self.k5.kinit(principal, password, flags=["-c", ccache], verbose=False)

    def stop(self) -> None:
        self.k5.stop()

    def __enter__(self) -> TestRealm:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
