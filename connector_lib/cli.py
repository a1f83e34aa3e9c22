"""``osipi-lakeflow``: the operator's command line, a console script of the wheel.

``osipi-lakeflow check --config my-pi.yml`` runs the preflight (:mod:`connector_lib.preflight`) from any
machine that can reach the PI Web API, without Spark and without a Databricks workspace: the server, TLS
and the credentials, the data server, the tag selection and one small read, each step printed as it
passes, a failure as one line naming the host, the reason and the setting to change (exit status 2). The
settings file is the one ``make run CONFIG=`` takes (``pi.*`` keys, secrets as ``env:VAR``).
"""

from __future__ import annotations

import argparse
import sys

from .config import ConfigError, PIConfig, read_settings_file
from .preflight import STEPS, PreflightFailed, preflight

#: exit statuses: every step passed / a step or the settings failed / the command line is wrong
OK, FAILED = 0, 2


def _check(args: argparse.Namespace) -> int:
    try:
        config = PIConfig.from_mapping(read_settings_file(args.config))
    except ConfigError as exc:
        print(f"configuration error: {exc}")
        return FAILED
    try:
        for passed in preflight(config, through=args.through):
            print(f"ok   {passed.step}: {passed.found}", flush=True)
    except PreflightFailed as exc:
        print(exc)
        return FAILED
    return OK


def parser() -> argparse.ArgumentParser:
    commands = argparse.ArgumentParser(
        prog="osipi-lakeflow", description="Operate the osipi-lakeflow pipeline (PI Web API to Delta)."
    )
    sub = commands.add_subparsers(dest="command", required=True, metavar="command")
    check = sub.add_parser(
        "check",
        help="reach the PI Web API and read one value, as an update would (no Spark, no workspace)",
        description=f"Steps, in order: {', '.join(STEPS)}. A failure is one line naming the setting to change.",
    )
    check.add_argument("--config", required=True, help="YAML file of pi.* settings (as make run CONFIG= takes)")
    check.add_argument("--through", choices=STEPS, default=STEPS[-1], help="the last step to run (default: every step)")
    check.set_defaults(run=_check)
    return commands


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
