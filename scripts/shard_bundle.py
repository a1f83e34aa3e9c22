"""Write the bundle resources of a deployment in N tag shards: resources/osipi_lakeflow.shards.yml.

    python scripts/shard_bundle.py --shards 4     # then: databricks bundle deploy -t <target>
    python scripts/shard_bundle.py --shards 1     # back to one pipeline (removes the file)

The pipeline ``osipi_lakeflow`` stays shard 0, in its schema, and alone reads the Asset Framework and
event frames. Shards 1 to N-1 are copies of it (the same files, environment, configuration without the
``pi.af.*`` / ``pi.ef.*`` keys, and each target's compute overrides), each in a schema of its own,
``<schema>_shard_<k>``. Every target's refresh job runs all the shards side by side, then combines their
tables into views in ``<schema>_all`` (``connector_lib.spark.shards``, on serverless job compute: it
needs Unity Catalog, not the PI server). The shards share ``pi.max_requests_per_second``: each pipeline
uses 1/N of it. Run the script again after changing resources/osipi_lakeflow.pipeline.yml or a target's
override of it: the shards are copies. docs/deploy.md, tag shards, says what changing N means.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
BASE, JOB, TASK = "osipi_lakeflow", "osipi_lakeflow_refresh", "refresh_osipi_lakeflow"
OUTPUT = Path("resources") / "osipi_lakeflow.shards.yml"
#: settings of what only shard 0 reads (the Asset Framework and event frames)
SHARD_ZERO_ONLY = ("pi.af.", "pi.ef.")
ENVIRONMENT = "osipi_wheel"


def shard_name(k: int) -> str:
    return f"{BASE}_shard_{k}"


def shard_resources(root: Path, shards: int) -> dict[str, Any]:
    """The YAML document of the shards file for the bundle at ``root``."""
    if shards < 2:
        raise ValueError("--shards: at least 2 (1 is the plain deployment, without this file)")
    bundle = yaml.safe_load((root / "databricks.yml").read_text(encoding="utf-8"))
    base = yaml.safe_load((root / "resources" / f"{BASE}.pipeline.yml").read_text(encoding="utf-8"))
    pipeline = base["resources"]["pipelines"][BASE]
    schemas, pipelines = {}, {}
    for k in range(1, shards):
        schemas[f"osipi_shard_{k}"] = {
            "catalog_name": "${var.catalog}",
            "name": f"${{var.schema}}_shard_{k}",
            "comment": f"osipi-lakeflow tag shard {k} of {shards}: its bronze, silver, watermarks and gold",
        }
        copied = copy.deepcopy(pipeline)
        copied["name"] = shard_name(k)
        copied["schema"] = f"${{resources.schemas.osipi_shard_{k}.name}}"
        copied["configuration"] = {
            key: value
            for key, value in (copied.get("configuration") or {}).items()
            if not key.startswith(SHARD_ZERO_ONLY)
        }
        copied["configuration"].update({"pi.shard.count": str(shards), "pi.shard.index": str(k)})
        pipelines[shard_name(k)] = copied
    schemas["osipi_all"] = {
        "catalog_name": "${var.catalog}",
        "name": "${var.schema}_all",
        "comment": f"osipi-lakeflow: views of the {shards} tag shards' tables as one",
    }
    targets = {name: _target(spec or {}, pipeline, shards) for name, spec in (bundle.get("targets") or {}).items()}
    return {"resources": {"schemas": schemas, "pipelines": pipelines}, "targets": targets}


def _target(target: dict, pipeline: dict, shards: int) -> dict[str, Any]:
    """The target's overrides: shard 0's count, the shards' copies of its override of the pipeline, and
    the job's tasks for the shards and the combining step."""
    override = ((target.get("resources") or {}).get("pipelines") or {}).get(BASE) or {}
    pipelines: dict[str, Any] = {BASE: {"configuration": {"pi.shard.count": str(shards), "pi.shard.index": "0"}}}
    for k in range(1, shards):
        copied = {key: copy.deepcopy(value) for key, value in override.items() if key != "schema"}
        if "configuration" in copied:
            copied["configuration"] = {
                key: value for key, value in copied["configuration"].items() if not key.startswith(SHARD_ZERO_ONLY)
            }
        if copied:
            pipelines[shard_name(k)] = copied
    schema_zero = override.get("schema", pipeline["schema"])
    shard_schemas = [schema_zero] + [f"${{resources.schemas.osipi_shard_{k}.name}}" for k in range(1, shards)]
    tasks = [
        {
            "task_key": f"refresh_{shard_name(k)}",
            "pipeline_task": {"pipeline_id": f"${{resources.pipelines.{shard_name(k)}.id}}", "full_refresh": False},
        }
        for k in range(1, shards)
    ]
    tasks.append(
        {
            "task_key": "combine_shards",
            "depends_on": [{"task_key": TASK}] + [{"task_key": t["task_key"]} for t in tasks],
            "environment_key": ENVIRONMENT,
            "python_wheel_task": {
                "package_name": "osipi_lakeflow",
                "entry_point": "osipi-combine-shards",
                "parameters": [
                    "--into",
                    "${var.catalog}.${resources.schemas.osipi_all.name}",
                    "--shards",
                    ",".join(f"${{var.catalog}}.{s}" for s in shard_schemas),
                ],
            },
        }
    )
    environments = [
        {
            "environment_key": ENVIRONMENT,
            "spec": {
                "environment_version": pipeline["environment"]["environment_version"],
                "dependencies": ["../dist/*.whl"],
            },
        }
    ]
    return {"resources": {"pipelines": pipelines, "jobs": {JOB: {"tasks": tasks, "environments": environments}}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", type=int, required=True, help="pipelines the tags are shared out to")
    parser.add_argument("--root", type=Path, default=ROOT, help="the bundle's folder (default: this repository)")
    args = parser.parse_args()
    if not (args.root / "databricks.yml").is_file():
        raise SystemExit(f"--root: no databricks.yml in {args.root}")
    if args.shards < 1:
        raise SystemExit(f"--shards: at least 1, got {args.shards}")
    out = args.root / OUTPUT
    if args.shards == 1:
        out.unlink(missing_ok=True)
        print(f"removed {out}: one pipeline")
        return
    document = shard_resources(args.root, args.shards)
    header = (
        f"# {args.shards} tag shards, written by scripts/shard_bundle.py --shards {args.shards}; run it again "
        "rather than edit this file.\n"
    )
    out.write_text(header + yaml.safe_dump(document, sort_keys=False, width=120), encoding="utf-8")
    print(f"wrote {out}: {BASE} (shard 0) and {args.shards - 1} more shard pipelines, combined in <schema>_all")


if __name__ == "__main__":
    main()
