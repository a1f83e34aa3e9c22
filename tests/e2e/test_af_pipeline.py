"""The AF hierarchy through the real local pipeline: snapshots into pi_af_bronze, history in
pi_af_elements / pi_af_attributes and the tag-to-asset mapping, reconciled with the simulator's AF model;
an element renamed and an attribute re-pointed between two updates close the old versions and open new
ones; an update before pi.af.refresh has passed takes no new snapshot."""

import datetime as dt

import pytest

from pi_simulator import Archive, SimulatorServer
from pi_simulator.af import AFChanges, AssetModel
from pi_simulator.truth import to_ticks

UTC = dt.timezone.utc
RENAMED = "Sydney\\Unit 001\\P-001"
REPOINTED = "Sydney\\Unit 001\\P-001|Discharge Flow"


def naive(when: dt.datetime) -> dt.datetime:
    return when.astimezone(UTC).replace(tzinfo=None)  # Spark Connect returns UTC session times without a zone


@pytest.fixture(scope="module")
def run(local_pipeline_factory):
    archive = Archive(seed=8, n_points=60)
    first = dt.datetime.now(UTC).replace(microsecond=0)
    change = first + dt.timedelta(minutes=30)
    other = next(p.name for p in archive.points if p.name.startswith("HOU.U002."))  # a tag of another unit
    model = AssetModel(archive, AFChanges(renames=((RENAMED, to_ticks(change), "P-001A"),),
                                          repoints=((REPOINTED, to_ticks(change), other),)))
    with SimulatorServer(archive, assets=model) as server:
        server.api.clock = lambda: first
        pipeline = local_pipeline_factory({
            "pi.url": server.url, "pi.backfill_start": "*-5m", "pi.settle_lag": "1s", "pi.lookback": "60s",
            "pi.af.databases": "Operations", "pi.af.refresh": "0s", "pi.af.page_size": "20"}, "af")
        spark = pipeline.spark
        out = {"spark": spark, "model": model, "archive": archive, "server": server, "other": other,
               "first": first, "later": first + dt.timedelta(hours=1)}
        result = pipeline.update()
        assert result.ok, result.error
        out["elements_1"] = spark.read.table("pi_af_elements").collect()
        out["attributes_1"] = spark.read.table("pi_af_attributes").collect()
        out["mapping_1"] = spark.read.table("pi_tag_assets").collect()
        server.api.clock = lambda: out["later"]
        result = pipeline.update()
        assert result.ok, result.error
        out["elements_2"] = spark.read.table("pi_af_elements").collect()
        out["attributes_2"] = spark.read.table("pi_af_attributes").collect()
        out["mapping_2"] = spark.read.table("pi_tag_assets").collect()
        out["snapshots_2"] = spark.sql("SELECT count(*) AS n FROM pi_af_bronze WHERE record_kind = 'snapshot'").first().n
        pipeline.configuration["pi.af.refresh"] = "1h"  # the next update is not due for a snapshot
        result = pipeline.update()
        assert result.ok, result.error
        out["snapshots_3"] = spark.sql("SELECT count(*) AS n FROM pi_af_bronze WHERE record_kind = 'snapshot'").first().n
        yield out


def current_equals_truth(run, elements, attributes, when):
    model: AssetModel = run["model"]
    state = model.state(to_ticks(when))
    current = {r.id: r for r in elements if r.is_current}
    assert set(current) == {str(e) for e in state.elements}
    for eid, e in state.elements.items():
        row = current[str(eid)]
        assert (row.name, row.path, row.template) == (e.name, model.full_path(state.paths[eid]), e.template)
    attrs = {r.id: r for r in attributes if r.is_current}
    assert set(attrs) == {str(a) for a in state.attributes}
    for aid, a in state.attributes.items():
        row = attrs[str(aid)]
        assert row.path == model.full_path(f"{state.paths[a.element]}|{a.name}")
        assert row.tag == (a.tag if a.template.data_reference else None)


def test_af_silver_equals_the_model_after_the_first_update(run):
    current_equals_truth(run, run["elements_1"], run["attributes_1"], run["first"])
    assert all(r.valid_to is None for r in run["elements_1"] + run["attributes_1"])
    mapped = {r.tag: r for r in run["mapping_1"] if r.web_id}
    points = run["archive"].points
    assert set(mapped) == {p.name for p in points}  # every tag maps to an asset
    for p in points:
        assert mapped[p.name].web_id == run["server"].api.point_webid(p)
        assert mapped[p.name].element_path.startswith("\\\\PIAFSIM\\Operations\\")


def test_a_rename_and_a_repoint_close_the_old_versions_and_open_new_ones(run):
    current_equals_truth(run, run["elements_2"], run["attributes_2"], run["later"])
    model = run["model"]
    renamed = str(next(e for e, p in model.state(0).paths.items() if p == RENAMED))
    versions = sorted((r for r in run["elements_2"] if r.id == renamed), key=lambda r: r.valid_from)
    assert [(v.name, v.is_current) for v in versions] == [("P-001", False), ("P-001A", True)]
    assert versions[0].valid_to == versions[1].valid_from
    untouched = [r for r in run["elements_2"] if "Unit 001" not in r.path]
    assert untouched and all(r.is_current and r.valid_to is None for r in untouched)  # one version each
    flow = [r for r in run["attributes_2"] if r.name == "Discharge Flow" and "Sydney\\Unit 001\\P-001" in r.path]
    tags = [r.tag for r in sorted(flow, key=lambda r: r.valid_from)]
    assert tags[0].startswith("SYD.U001.FT") and tags[-1] == run["other"] and flow[-1].is_current
    # the new tag is now referenced twice (by its own asset and the re-pointed attribute), the old one by none
    uses = [r for r in run["mapping_2"] if r.tag == run["other"]]
    assert sorted(r.element_name for r in uses)[0] == "P-001A" and len(uses) == 2
    assert not [r for r in run["mapping_2"] if r.tag == tags[0]]


def test_no_new_snapshot_before_the_refresh_interval(run):
    assert run["snapshots_2"] == 2 and run["snapshots_3"] == 2
