"""Offline checks of the Databricks Asset Bundle (databricks.yml + resources/*.yml).

The `databricks` CLI (a Go binary) is not installable here, so `bundle validate` cannot run. These tests
do the part of it that matters before a deploy: resolve ``${var.*}`` per target, check that every local
path the bundle references exists, validate each resource against the typed models of
``databricks-bundles`` (which reject unknown fields and wrong types), and check the pipeline
configuration against the connector's own list of settings and secrets. No Spark, no network.
"""

from __future__ import annotations

import copy
import glob
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from databricks.bundles.jobs import Job, JobPermission, JobRunAs
from databricks.bundles.pipelines import Pipeline
from databricks.bundles.schemas import Schema

from connector_lib.settings import KNOWN_KEYS, PREFIX, SECRET_KEYS

ROOT = Path(__file__).resolve().parents[1]
BUNDLE_FILE = ROOT / "databricks.yml"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

VAR_REF = re.compile(r"\$\{var\.([A-Za-z0-9_-]+)\}")
RESOURCE_REF = re.compile(r"\$\{resources\.([a-z_]+)\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_.]+\}")
SECRET_REF = re.compile(r"^\{\{secrets/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\}\}$")
SENSITIVE_KEY = re.compile(r"pass(word|wd)?|secret|token|credential|api[_.-]?key|private[_.-]?key", re.I)
URL_WITH_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]+:[^/@\s]+@", re.I)

# Top-level and target-level keys of the bundle schema (a typo such as `targest:` is otherwise silently
# ignored by a plain YAML load).
ROOT_KEYS = {
    "bundle",
    "include",
    "artifacts",
    "variables",
    "targets",
    "resources",
    "workspace",
    "permissions",
    "run_as",
    "sync",
    "presets",
    "experimental",
    "scripts",
    "python",
    "environments",
}
TARGET_KEYS = {
    "mode",
    "default",
    "workspace",
    "variables",
    "resources",
    "permissions",
    "run_as",
    "presets",
    "artifacts",
    "bundle",
    "git",
    "sync",
    "cluster_id",
    "compute_id",
}
ARTIFACT_KEYS = {"type", "build", "path", "files", "executable", "dynamic_version"}
MODELS = {"pipelines": Pipeline, "jobs": Job, "schemas": Schema}
#: pipeline environment versions the code is checked against (devtools/api_surface/): 4 is Python 3.12
#: with the Spark 4.0 client of Databricks Runtime 17.3 LTS
ENVIRONMENT_VERSIONS = {"4"}
CHANNELS = {"CURRENT", "PREVIEW"}
CLASSIC_TARGETS = {"dev_classic", "prod_classic"}


# ---- loading and resolution ---------------------------------------------------------------------------


@dataclass
class Resource:
    kind: str  # "pipelines" | "jobs"
    key: str
    spec: dict[str, Any]
    source: Path  # the YAML file it was declared in; its paths are relative to this file's folder


def load_bundle(bundle_file: Path = BUNDLE_FILE) -> tuple[dict, list[tuple[Path, dict]]]:
    """databricks.yml and every file its ``include`` globs match, each as loaded by ``yaml.safe_load``."""
    root = yaml.safe_load(bundle_file.read_text(encoding="utf-8"))
    included = []
    for pattern in root.get("include", []):
        matches = sorted(glob.glob(str(bundle_file.parent / pattern)))
        assert matches, f"include pattern {pattern!r} matches no file"
        for name in matches:
            included.append((Path(name), yaml.safe_load(Path(name).read_text(encoding="utf-8")) or {}))
    return root, included


def target_variables(root: Mapping, target: str) -> dict[str, Any]:
    """Variable values of one target: the target's own value, else the variable's default."""
    declared = root.get("variables", {})
    overrides = root["targets"][target].get("variables") or {}
    unknown = sorted(set(overrides) - set(declared))
    assert not unknown, f"target {target} sets undeclared variables {unknown}"
    values = {}
    for name, spec in declared.items():
        value = overrides.get(name, (spec or {}).get("default"))
        if isinstance(value, Mapping) and "default" in value:
            value = value["default"]
        values[name] = value
    return values


def substitute(obj: Any, values: Mapping[str, Any]) -> Any:
    """Replace ``${var.name}`` everywhere in a YAML tree; an unknown or unset variable is an error."""
    if isinstance(obj, dict):
        return {k: substitute(v, values) for k, v in obj.items()}
    if isinstance(obj, list):
        return [substitute(v, values) for v in obj]
    if not isinstance(obj, str):
        return obj

    def one(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"${{var.{name}}} is not a declared variable")
        if values[name] is None:
            raise KeyError(f"${{var.{name}}} has neither a default nor a target value")
        return str(values[name])

    return VAR_REF.sub(one, obj)


def _merge(base: Any, override: Any) -> Any:
    """A target's resources merged into the bundle's as the CLI merges them: maps key by key, lists
    concatenated, other values replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _merge(base.get(key), value) if key in base else value
        return out
    if isinstance(base, list) and isinstance(override, list):
        return base + override
    return override


def resources_for(root: Mapping, included: list[tuple[Path, dict]], target: str) -> list[Resource]:
    """Every pipeline and job of one target, variables resolved, target overrides merged in."""
    values = target_variables(root, target)
    found: dict[tuple[str, str], Resource] = {}
    for source, doc in [(BUNDLE_FILE, root), *included]:
        for kind, entries in (doc.get("resources") or {}).items():
            for key, spec in (entries or {}).items():
                assert (kind, key) not in found, f"resources.{kind}.{key} is declared twice"
                found[(kind, key)] = Resource(kind, key, spec, source)
    for source, doc in [(BUNDLE_FILE, root), *included]:  # an included file may override targets too
        overrides = ((doc.get("targets") or {}).get(target) or {}).get("resources") or {}
        for kind, entries in overrides.items():
            for key, spec in (entries or {}).items():
                if (kind, key) in found:
                    found[(kind, key)].spec = _merge(found[(kind, key)].spec, spec)
                else:  # a resource only this target has (the dev schema)
                    assert kind == "schemas", f"targets.{target} overrides unknown resources.{kind}.{key}"
                    found[(kind, key)] = Resource(kind, key, spec, source)
    return [Resource(r.kind, r.key, substitute(copy.deepcopy(r.spec), values), r.source) for r in found.values()]


# ---- checks (return problems as text so a negative test can assert on them) -----------------------------


def config_problems(configuration: Mapping[str, Any], clusters: list | None = None) -> list[str]:
    """What is wrong with a pipeline ``configuration`` mapping, one line per problem. A secret may also be
    ``env:VAR`` when every one of the pipeline's ``clusters`` sets VAR from a secret reference
    (``spark_env_vars``) that runs updates (label ``default``, the label of a cluster without one; the
    ``maintenance`` cluster runs no connector code): then only the variable's name travels in the plan
    (docs/security.md). Serverless pipelines have no clusters, so no environment variables."""
    problems = []
    updating = [c for c in clusters or [] if c.get("label", "default") == "default"]
    env_from_secrets = (
        set.intersection(
            *[{k for k, v in (c.get("spark_env_vars") or {}).items() if SECRET_REF.match(str(v))} for c in updating]
        )
        if updating
        else set()
    )
    for key, value in configuration.items():
        if not isinstance(value, str):
            problems.append(f"{key}: value must be a quoted string, got {type(value).__name__} {value!r}")
            continue
        if key.startswith(PREFIX) and key not in KNOWN_KEYS:
            problems.append(f"{key}: not a known setting of connector_lib.config")
        is_secret_ref = bool(SECRET_REF.match(value))
        if key in SECRET_KEYS and value.startswith("env:"):
            if value[4:] not in env_from_secrets:
                problems.append(
                    f"{key}: {value} needs spark_env_vars {value[4:]} set from a secret reference "
                    f"on the pipeline's default cluster"
                )
        elif key in SECRET_KEYS and not is_secret_ref:
            problems.append(f"{key}: must be a Databricks secret reference {{{{secrets/<scope>/<key>}}}}")
        elif SENSITIVE_KEY.search(key) and value and not is_secret_ref and key not in SECRET_KEYS:
            problems.append(f"{key}: looks like a literal secret; use a secret reference")
        if URL_WITH_PASSWORD.match(value):
            problems.append(f"{key}: URL carries a password; use pi.auth.* with secret references")
        if "{{secrets/" in value and not is_secret_ref:
            problems.append(f"{key}: malformed secret reference")
    mode = configuration.get("pi.auth.type", "anonymous")  # the secrets the chosen mode needs
    needed = {
        "basic": ["pi.auth.password"],
        "kerberos": []
        if "pi.auth.kerberos_keytab" in configuration or "pi.auth.username" not in configuration
        else ["pi.auth.password"],
        "bearer": ["pi.auth.client_secret" if "pi.auth.token_url" in configuration else "pi.auth.token"],
    }
    missing = sorted(k for k in needed.get(mode, []) if k not in configuration)
    problems += [f"{k}: missing (must be a secret reference)" for k in missing]
    if mode == "kerberos" and "pi.auth.username" not in configuration:
        problems.append(
            "pi.auth.username: required for kerberos on Databricks (a cluster has no ticket cache to fall back on)"
        )
    return problems


def path_problems(resource: Resource, root: Mapping) -> list[str]:
    """Local files a pipeline references that do not exist (relative to the resource's YAML file)."""
    base = resource.source.parent
    problems = []
    for lib in resource.spec.get("libraries") or []:
        for kind in ("file", "notebook", "glob"):
            if kind not in lib:
                continue
            ref = lib[kind].get("include" if kind == "glob" else "path")
            if ref.startswith("/"):
                continue  # a workspace path, outside the bundle
            pattern = str(base / ref)
            if not (glob.glob(pattern, recursive=True) if kind == "glob" else Path(pattern).is_file()):
                problems.append(f"library {kind} {ref!r} not found from {resource.source.name}")
    for dep in (resource.spec.get("environment") or {}).get("dependencies") or []:
        if not dep.startswith("."):
            continue  # a pip requirement or a workspace/volume path (the CLI treats only ./ ../ as local)
        path = (base / dep).resolve()
        if path.parent.name == "dist" and path.name.endswith(".whl"):
            problems += _wheel_problems(dep, path.parent.parent, root)
        elif not glob.glob(str(path)):
            problems.append(f"dependency {dep!r} not found from {resource.source.name}")
    return problems


def _wheel_problems(dep: str, project: Path, root: Mapping) -> list[str]:
    """A wheel in dist/ does not exist before `bundle deploy`: it must be what a whl artifact builds."""
    for name, artifact in (root.get("artifacts") or {}).items():
        if artifact.get("type") == "whl" and (BUNDLE_FILE.parent / artifact.get("path", ".")).resolve() == project:
            if (project / "setup.py").is_file() or (project / "pyproject.toml").is_file():
                return []
            return [f"artifact {name} builds {project} which has no setup.py or pyproject.toml"]
    return [f"dependency {dep!r}: no whl artifact in databricks.yml builds {project / 'dist'}"]


def reference_problems(resources: list[Resource]) -> list[str]:
    """``${resources.<kind>.<key>.*}`` references that name no resource of the bundle."""
    known = {(r.kind, r.key) for r in resources}
    problems = []
    for r in resources:
        for kind, key in RESOURCE_REF.findall(yaml.safe_dump(r.spec)):
            if (kind, key) not in known:
                problems.append(f"{r.kind}.{r.key} references unknown resources.{kind}.{key}")
    return problems


# ---- tests --------------------------------------------------------------------------------------------

BUNDLE, INCLUDED = load_bundle()
TARGETS = sorted(BUNDLE.get("targets", {}))


def test_bundle_structure():
    assert set(BUNDLE) <= ROOT_KEYS, f"unknown top-level keys {sorted(set(BUNDLE) - ROOT_KEYS)}"
    assert BUNDLE["bundle"]["name"] == "osipi_lakeflow"
    assert BUNDLE["include"] == ["resources/*.yml"]
    assert INCLUDED, "the include globs match no resource file"
    for source, doc in INCLUDED:
        assert set(doc) <= {"resources", "variables", "targets"}, f"{source.name}: unexpected keys {sorted(doc)}"
    for name, spec in BUNDLE["variables"].items():
        assert (spec or {}).get("description"), f"variable {name} has no description"
    assert {"catalog", "schema", "pi_url", "secret_scope"} <= set(BUNDLE["variables"])
    assert BUNDLE["variables"]["secret_scope"]["default"] == "osipi"

    targets = BUNDLE["targets"]
    assert {"dev", "prod"} | CLASSIC_TARGETS <= set(targets)
    for name, target in targets.items():
        assert set(target) <= TARGET_KEYS, f"targets.{name}: unknown keys {sorted(set(target) - TARGET_KEYS)}"
    assert [n for n, t in targets.items() if t.get("default")] == ["dev"], "dev must be the only default target"
    for dev, prod in (("dev", "prod"), ("dev_classic", "prod_classic")):
        assert targets[dev]["mode"] == "development"
        assert targets[prod]["mode"] == "production"
        assert "root_path" not in targets[dev].get("workspace", {})  # development mode derives a per-user path
        assert target_variables(BUNDLE, prod)["schema"] != target_variables(BUNDLE, dev)["schema"]
    # development mode prefixes the schema per user; the two dev targets must not share one
    assert target_variables(BUNDLE, "dev")["schema"] != target_variables(BUNDLE, "dev_classic")["schema"]


@pytest.mark.parametrize("target", ["prod", "prod_classic"])
def test_prod_target_can_deploy(target):
    """What `bundle validate` demands of mode: production: a root_path and a run_as identity."""
    prod = BUNDLE["targets"][target]
    assert prod["workspace"].get("root_path"), "mode: production requires workspace.root_path"
    run_as = prod.get("run_as")
    assert run_as, "mode: production requires run_as for every job (set once at target level)"
    JobRunAs.from_dict(run_as)
    assert sum(bool(v) for v in run_as.values()) == 1, "run_as must name exactly one identity"
    for permission in prod.get("permissions", []):
        JobPermission.from_dict(permission)
        assert permission["level"] in ("CAN_MANAGE", "CAN_VIEW", "CAN_RUN")


def test_artifact_builds_the_wheel_from_pyproject():
    wheels = {k: a for k, a in BUNDLE["artifacts"].items() if a.get("type") == "whl"}
    assert len(wheels) == 1
    ((name, artifact),) = wheels.items()
    assert set(artifact) <= ARTIFACT_KEYS, f"artifact {name}: unknown keys"
    assert (BUNDLE_FILE.parent / artifact["path"] / "pyproject.toml").is_file()
    assert artifact["build"] == "python scripts/build_wheel.py"


def test_every_build_is_a_clean_dist_with_a_new_version(tmp_path):
    """A re-deploy must never reach Databricks' cached environment under the version it already has, nor
    upload a stale wheel left in dist/."""
    import shutil
    import sys
    import zipfile

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from build_wheel import build
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    project = tmp_path / "project"
    shutil.copytree(
        ROOT,
        project,
        ignore=shutil.ignore_patterns(
            ".venv*", ".git", ".work", "dist", "build", "*.egg-info", "__pycache__", "tests", "benchmarks"
        ),
    )
    (project / "dist").mkdir()
    (project / "dist" / "osipi_lakeflow-0.0.9-py3-none-any.whl").write_bytes(b"stale")
    first = build(project, stamp="20261201010101")
    second = build(project, stamp="20261201010202")
    assert [p.name for p in (project / "dist").iterdir()] == [second.name]
    assert first.name == "osipi_lakeflow-0.1.0+20261201010101-py3-none-any.whl"
    assert second.name == "osipi_lakeflow-0.1.0+20261201010202-py3-none-any.whl"
    with zipfile.ZipFile(second) as wheel:
        names = wheel.namelist()
    assert "connector_lib/spark/stream_reader.py" in names and "expectations/pi_timeseries_silver.yml" in names
    assert not any(n.startswith(("pi_simulator/", "devtools/", "tests/", "pipelines/")) for n in names)
    assert not (project / "build").exists()


@pytest.mark.parametrize("target", TARGETS)
def test_resources_validate(target):
    resources = resources_for(BUNDLE, INCLUDED, target)
    kinds = {(r.kind, r.key) for r in resources}
    assert ("pipelines", "osipi_lakeflow") in kinds
    assert ("jobs", "osipi_lakeflow_refresh") in kinds
    assert (("schemas", "osipi_dev") in kinds) == (BUNDLE["targets"][target]["mode"] == "development")
    for r in resources:
        assert r.kind in MODELS, f"no offline model for resources.{r.kind}"
        assert "${var." not in yaml.safe_dump(r.spec), f"{r.kind}.{r.key}: unresolved variable"
        MODELS[r.kind].from_dict(r.spec)  # raises on unknown fields and wrong types
    assert reference_problems(resources) == []

    job = next(r.spec for r in resources if r.key == "osipi_lakeflow_refresh")
    assert [t["pipeline_task"]["pipeline_id"] for t in job["tasks"]] == ["${resources.pipelines.osipi_lakeflow.id}"]
    assert job["schedule"]["quartz_cron_expression"].split()[:2] == ["0", "0/15"], "every 15 minutes"
    assert "pause_status" not in job["schedule"], "dev mode pauses the schedule only if it is left unset"


@pytest.mark.parametrize("target", TARGETS)
def test_pipeline_paths_and_configuration(target):
    pipelines = [r for r in resources_for(BUNDLE, INCLUDED, target) if r.kind == "pipelines"]
    for p in pipelines:
        assert path_problems(p, BUNDLE) == []
        assert config_problems(p.spec.get("configuration") or {}, p.spec.get("clusters")) == []
        assert p.spec.get("continuous") is False, "triggered pipeline; the job schedules the updates"

    pipeline = next(p for p in pipelines if p.key == "osipi_lakeflow").spec
    config = pipeline["configuration"]
    scope = target_variables(BUNDLE, target)["secret_scope"]
    assert config["pi.url"] == target_variables(BUNDLE, target)["pi_url"]
    assert config["pi.auth.type"] == "basic"
    assert config["pi.auth.username"] == f"{{{{secrets/{scope}/pi_username}}}}"
    if target in CLASSIC_TARGETS:  # the password reaches the cluster as an environment variable
        assert config["pi.auth.password"] == "env:PI_PASSWORD"
    else:
        assert config["pi.auth.password"] == f"{{{{secrets/{scope}/pi_password}}}}"
    assert config["spark.sql.session.timeZone"] == "UTC"


@pytest.mark.parametrize("target", TARGETS)
def test_the_runtime_is_pinned_to_what_the_code_supports(target):
    pipeline = next(r for r in resources_for(BUNDLE, INCLUDED, target) if r.key == "osipi_lakeflow").spec
    assert pipeline["environment"]["environment_version"] in ENVIRONMENT_VERSIONS
    assert pipeline["channel"] in CHANNELS
    assert pipeline["environment"]["dependencies"][0] == "../dist/*.whl"


@pytest.mark.parametrize("target", TARGETS)
def test_serverless_and_classic_compute(target):
    pipeline = next(r for r in resources_for(BUNDLE, INCLUDED, target) if r.key == "osipi_lakeflow").spec
    if target not in CLASSIC_TARGETS:
        assert pipeline["serverless"] is True and not pipeline.get("clusters")
        return
    assert pipeline["serverless"] is False
    assert pipeline["edition"] == "ADVANCED", "expectations need the ADVANCED edition on classic compute"
    (cluster,) = pipeline["clusters"]
    assert cluster["label"] == "default" and cluster["autoscale"]["mode"] == "ENHANCED"
    assert cluster["node_type_id"] == target_variables(BUNDLE, target)["node_type_id"]
    (script,) = cluster["init_scripts"]
    destination = script["workspace"]["destination"]
    assert destination.startswith("${workspace.file_path}/")
    assert (ROOT / destination.removeprefix("${workspace.file_path}/")).is_file()  # synced with the bundle
    (kerberos,) = PROJECT["project"]["optional-dependencies"]["kerberos"]
    assert pipeline["environment"]["dependencies"] == ["../dist/*.whl", kerberos]  # the wheel's kerberos extra
    assert (
        cluster["spark_env_vars"]["PI_PASSWORD"]
        == f"{{{{secrets/{target_variables(BUNDLE, target)['secret_scope']}/pi_password}}}}"
    )


@pytest.mark.parametrize("target", ["dev", "dev_classic"])
def test_the_dev_schema_is_part_of_the_deployment(target):
    resources = {(r.kind, r.key): r.spec for r in resources_for(BUNDLE, INCLUDED, target)}
    schema = resources[("schemas", "osipi_dev")]
    assert (schema["catalog_name"], schema["name"]) == (
        target_variables(BUNDLE, target)["catalog"],
        target_variables(BUNDLE, target)["schema"],
    )
    # referenced, so the CLI creates the schema before the pipeline that publishes into it
    assert resources[("pipelines", "osipi_lakeflow")]["schema"] == "${resources.schemas.osipi_dev.name}"


def test_pipeline_libraries_match_the_open_source_spec():
    """The bundle deploys the same files, in the same order, as spark-pipeline.yml runs locally."""
    pipeline = next(r for r in resources_for(BUNDLE, INCLUDED, "dev") if r.key == "osipi_lakeflow")
    deployed = [(pipeline.source.parent / lib["file"]["path"]).resolve() for lib in pipeline.spec["libraries"]]
    spec = yaml.safe_load((ROOT / "spark-pipeline.yml").read_text(encoding="utf-8"))
    local = [(ROOT / lib["glob"]["include"]).resolve() for lib in spec["libraries"]]
    assert deployed == local == [ROOT / "pipelines" / f"{layer}.py" for layer in ("bronze", "silver")]


def test_configuration_defaults_match_the_connector():
    """Tuning keys set in the bundle carry the connector's own defaults, so docs and deploy agree."""
    from connector_lib.config import PIConfig
    from connector_lib.settings import SETTINGS

    pipeline = next(r for r in resources_for(BUNDLE, INCLUDED, "prod") if r.key == "osipi_lakeflow")
    config = pipeline.spec["configuration"]
    defaults = {s.key: s.default for s in SETTINGS}
    for key, value in config.items():
        if (
            key.startswith(PREFIX)
            and key not in ("pi.url", "pi.auth.type", "pi.auth.username")
            and key not in SECRET_KEYS
        ):
            assert value == defaults[key], f"{key}: {value!r} differs from the default {defaults[key]!r}"
    # The connector accepts the deployed configuration once Databricks has resolved the secrets.
    resolved = {k: ("resolved-by-databricks" if SECRET_REF.match(v) else v) for k, v in config.items()}
    PIConfig.from_spark_conf(resolved)


# ---- tag shards (scripts/shard_bundle.py) ---------------------------------------------------------------


def sharded(shards: int) -> list[tuple[Path, dict]]:
    """The bundle's files with the shards file the script writes (as if it were in resources/)."""
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from shard_bundle import OUTPUT, shard_resources

    return INCLUDED + [(ROOT / OUTPUT, shard_resources(ROOT, shards))]


@pytest.mark.parametrize("target", TARGETS)
def test_a_sharded_bundle_deploys_disjoint_pipelines_and_combines_them(target):
    from connector_lib.config import PIConfig

    resources = resources_for(BUNDLE, sharded(3), target)
    for r in resources:
        MODELS[r.kind].from_dict(r.spec)
        assert "${var." not in yaml.safe_dump(r.spec), f"{r.kind}.{r.key}: unresolved variable"
    assert reference_problems(resources) == []
    pipelines = {r.key: r for r in resources if r.kind == "pipelines"}
    assert sorted(pipelines) == ["osipi_lakeflow", "osipi_lakeflow_shard_1", "osipi_lakeflow_shard_2"]
    base = pipelines["osipi_lakeflow"].spec
    for index, key in enumerate(sorted(pipelines)):
        spec = pipelines[key].spec
        assert path_problems(pipelines[key], BUNDLE) == []
        assert config_problems(spec["configuration"], spec.get("clusters")) == []
        assert (spec["configuration"]["pi.shard.count"], spec["configuration"]["pi.shard.index"]) == ("3", str(index))
        resolved = {k: ("resolved" if SECRET_REF.match(v) else v) for k, v in spec["configuration"].items()}
        if resolved.get("pi.auth.password", "").startswith("env:"):
            resolved["pi.auth.password"] = "resolved"
        assert PIConfig.from_spark_conf(resolved).shard_index == index
        # the same code and compute as shard 0, in a schema of its own
        for field in ("libraries", "environment", "serverless", "clusters", "channel", "edition", "photon"):
            assert spec.get(field) == base.get(field), (key, field)
        if index:
            assert spec["schema"] == f"${{resources.schemas.osipi_shard_{index}.name}}"
            assert not [k for k in spec["configuration"] if k.startswith(("pi.af.", "pi.ef."))]
    schemas = {r.key: r.spec for r in resources if r.kind == "schemas"}
    schema = target_variables(BUNDLE, target)["schema"]
    assert schemas["osipi_all"]["name"] == f"{schema}_all"
    assert schemas["osipi_shard_2"]["name"] == f"{schema}_shard_2"

    job = next(r.spec for r in resources if r.key == "osipi_lakeflow_refresh")
    refreshes = [t for t in job["tasks"] if "pipeline_task" in t]
    assert [t["pipeline_task"]["pipeline_id"] for t in refreshes] == [
        f"${{resources.pipelines.{key}.id}}" for key in sorted(pipelines)
    ]
    assert not any(t.get("depends_on") for t in refreshes), "the shards run side by side"
    (combining,) = [t for t in job["tasks"] if "python_wheel_task" in t]
    assert {d["task_key"] for d in combining["depends_on"]} == {t["task_key"] for t in refreshes}
    wheel = combining["python_wheel_task"]
    script = PROJECT["project"]["scripts"][wheel["entry_point"]]
    module, function = script.split(":")
    assert wheel["entry_point"] == "osipi-combine-shards"
    assert callable(getattr(__import__(module, fromlist=["_"]), function))
    into, shards = wheel["parameters"][1], wheel["parameters"][3].split(",")
    catalog = target_variables(BUNDLE, target)["catalog"]
    assert into == f"{catalog}.${{resources.schemas.osipi_all.name}}"
    assert shards == [f"{catalog}.{pipelines[key].spec['schema']}" for key in sorted(pipelines)]
    (environment,) = job["environments"]
    assert environment["environment_key"] == combining["environment_key"]
    assert environment["spec"]["dependencies"] == ["../dist/*.whl"]


def test_the_shard_script_writes_and_removes_its_file(tmp_path):
    import shutil
    import subprocess
    import sys

    for name in ("databricks.yml", "resources"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, tmp_path / name)
    script = [sys.executable, str(ROOT / "scripts" / "shard_bundle.py"), "--root", str(tmp_path)]
    subprocess.run(script + ["--shards", "2"], check=True, capture_output=True)
    written = yaml.safe_load((tmp_path / "resources" / "osipi_lakeflow.shards.yml").read_text(encoding="utf-8"))
    assert list(written["resources"]["pipelines"]) == ["osipi_lakeflow_shard_1"]
    assert set(written["targets"]) == set(TARGETS)
    subprocess.run(script + ["--shards", "1"], check=True, capture_output=True)
    assert not (tmp_path / "resources" / "osipi_lakeflow.shards.yml").exists()


# ---- the checks can fail ------------------------------------------------------------------------------


def test_validation_rejects_bad_bundles():
    pipeline = next(r for r in resources_for(BUNDLE, INCLUDED, "dev") if r.key == "osipi_lakeflow")

    bad = copy.deepcopy(pipeline.spec)
    bad["serverles"] = True
    with pytest.raises(ValueError, match="serverles"):
        Pipeline.from_dict(bad)

    job = next(r for r in resources_for(BUNDLE, INCLUDED, "dev") if r.key == "osipi_lakeflow_refresh")
    bad_job = copy.deepcopy(job.spec)
    bad_job["tasks"][0]["pipeline_task"]["pipeline_idd"] = bad_job["tasks"][0]["pipeline_task"].pop("pipeline_id")
    with pytest.raises((ValueError, TypeError)):
        Job.from_dict(bad_job)

    config = dict(pipeline.spec["configuration"])
    config["pi.page_sise"] = config.pop("pi.page_size")
    config["pi.auth.password"] = "hunter2"
    config["pi.max_tags"] = 0
    config["pi.url"] = "https://svc:hunter2@pi.example.com/piwebapi"
    config["pi.auth.username"] = "{{secrets/osipi/pi_username"
    problems = "\n".join(config_problems(config))
    assert "pi.page_sise: not a known setting" in problems
    assert "pi.auth.password: must be a Databricks secret reference" in problems
    assert "pi.max_tags: value must be a quoted string" in problems
    assert "pi.url: URL carries a password" in problems
    assert "pi.auth.username: malformed secret reference" in problems
    assert "hunter2" not in problems  # the report never echoes a secret it found
    assert "pi.auth.password: missing" in "\n".join(config_problems({"pi.url": "https://x", "pi.auth.type": "basic"}))
    assert "pi.auth.client_secret: missing" in "\n".join(
        config_problems({"pi.url": "https://x", "pi.auth.type": "bearer", "pi.auth.token_url": "https://idp/token"})
    )
    kerberos = {"pi.url": "https://x", "pi.auth.type": "kerberos", "pi.auth.username": "svc@CORP.EXAMPLE.COM"}
    assert config_problems(kerberos) == ["pi.auth.password: missing (must be a secret reference)"]
    assert config_problems({**kerberos, "pi.auth.kerberos_keytab": "/Volumes/c/s/v/svc.keytab"}) == []
    assert config_problems({"pi.url": "https://x", "pi.auth.type": "kerberos"}) == [
        "pi.auth.username: required for kerberos on Databricks (a cluster has no ticket cache to fall back on)"
    ]
    by_env = {**kerberos, "pi.auth.password": "env:PI_PASSWORD"}
    assert config_problems(by_env) == [
        "pi.auth.password: env:PI_PASSWORD needs spark_env_vars PI_PASSWORD set "
        "from a secret reference on the pipeline's default cluster"
    ]
    fed = {"label": "default", "spark_env_vars": {"PI_PASSWORD": "{{secrets/osipi/pi_password}}"}}
    assert config_problems(by_env, [fed, {"label": "maintenance"}]) == []
    assert config_problems(by_env, [{"spark_env_vars": fed["spark_env_vars"]}]) == []  # no label: default
    assert config_problems(by_env, [{**fed, "label": "maintenance"}]) != []  # maintenance runs no reads
    assert config_problems(by_env, [{"label": "default", "spark_env_vars": {"PI_PASSWORD": "hunter2"}}]) != []

    moved = Resource(pipeline.kind, pipeline.key, copy.deepcopy(pipeline.spec), ROOT / "elsewhere" / "p.yml")
    assert len(path_problems(moved, BUNDLE)) == 2  # the two library files are not found from elsewhere/
    no_artifact = {**BUNDLE, "artifacts": {}}
    assert any("no whl artifact" in p for p in path_problems(pipeline, no_artifact))

    orphan = copy.deepcopy(job)
    orphan.spec["tasks"][0]["pipeline_task"]["pipeline_id"] = "${resources.pipelines.osipi.id}"
    assert reference_problems([orphan]) == ["jobs.osipi_lakeflow_refresh references unknown resources.pipelines.osipi"]

    with pytest.raises(KeyError, match="pi_urll"):
        substitute({"pi.url": "${var.pi_urll}"}, target_variables(BUNDLE, "dev"))


# ---- the deployment guide ------------------------------------------------------------------------------

DEPLOY = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")


def test_the_guide_grants_the_production_principal_read_on_the_secret_scope():
    principal = BUNDLE["targets"]["prod"]["run_as"]["service_principal_name"]
    scope = BUNDLE["variables"]["secret_scope"]["default"]
    assert f"databricks secrets put-acl {scope} {principal} READ" in DEPLOY
    assert f"databricks secrets put-acl {scope} {principal} READ" in BUNDLE_FILE.read_text(encoding="utf-8")


def test_the_guide_walks_from_nothing_to_the_first_update():
    for command in (
        "databricks auth login",
        "databricks secrets create-scope",
        "databricks bundle validate -t dev",
        "databricks bundle deploy -t dev",
        "databricks bundle run -t dev osipi_lakeflow",
        "databricks bundle deploy -t prod",
    ):
        assert command in DEPLOY, command
    for topic in (
        "network connectivity configuration",
        "private endpoint",
        "VNet",
        "customer-managed VPC",
        "dev_classic",
        "prod_classic",
        "environment version `4`",
        "CURRENT",
        "PREVIEW",
    ):
        assert topic in DEPLOY, topic


def test_the_troubleshooting_table_quotes_the_messages_the_code_gives():
    from connector_lib.config import ConfigError, PIConfig
    from connector_lib.runtime import UnsupportedRuntime, require_supported_spark

    table = DEPLOY[DEPLOY.index("## Troubleshooting") :]
    with pytest.raises(UnsupportedRuntime) as too_old:
        require_supported_spark("4.0.0", "3.5.x")
    with pytest.raises(ConfigError) as misspelt:
        PIConfig.from_spark_conf({"pi.url": "https://pi.example.com/piwebapi", "pi.tag_fliter": "x"})
    for message in (
        str(too_old.value),
        str(misspelt.value),
        "cannot reach pi.example.com: the host name does not resolve (DNS)",
        "connection refused (nothing listens on that port)",
        "[SCHEMA_NOT_FOUND]",
        "READ",
        "not found when the update started, but its stream continues from a checkpoint",
        "the update stops rather than read every tag again from pi.backfill_start",
        "install osipi-lakeflow[kerberos]",
    ):
        assert message in table, message
