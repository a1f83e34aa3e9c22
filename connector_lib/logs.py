"""``pi.log_level``: how much the connector logs in every process that talks to the PI Web API.

Spark starts its Python workers (where the data source plans and reads) with no logging configuration,
so the connector's own messages, and those of the HTTP and Kerberos libraries under it, are lost there
unless a level is set; on Databricks they then appear in the driver's and executors' stderr logs. At
``debug`` each request is logged by method and URL (query included); no level logs a secret
(tests/e2e/test_auth_modes.py runs every auth mode at debug and searches the output for the canaries).
requests-kerberos stays at ``info`` or above whatever the level (``connector_lib.kerberos`` holds it there:
at debug it logs each ``Authorization: Negotiate`` header, a Kerberos authenticator).
"""

from __future__ import annotations

import logging
import sys

LOGGERS = ("connector_lib", "urllib3", "requests_kerberos")
LEVELS = ("debug", "info", "warning", "error")

_applied: str | None = None


def use_level(level: str) -> None:
    """Set the level of the connector's loggers (once per process and level). Without a handler on the
    root logger (a Spark Python worker), they get one that writes to stderr."""
    global _applied
    if not level or level == _applied:
        return
    handler = None
    if not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(level.upper())
        if handler is not None and all(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(handler)
            logger.propagate = False
    _applied = level
