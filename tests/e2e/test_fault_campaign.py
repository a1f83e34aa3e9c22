"""The seeded fault campaign on the real local pipeline (nothing lost or doubled, no watermark past bronze,
bad answers quarantined): every schedule runs faulted pipeline updates against a simulator that fails in every way and whose archive changes underneath
(late and out-of-order arrivals, edits, points created, deleted and denied), then one clean update (the
second group of six reads with Stream Updates, whose registrations expire or are forgotten); silver
must equal the ground truth as of the clean update, with 0 missing and 0 duplicated, and bronze must hold
every value up to every watermark. One more schedule SIGKILLs the process running an update and reruns it.

``OSIPI_CAMPAIGN_SCHEDULES`` changes the number of schedules (default 12); the longer campaign is
``python -m devtools.fault_campaign --schedules 100 --kill`` (docs/faults.md).
"""

import os

import pytest

from devtools.fault_campaign import group_lead, run_kill_schedule, run_schedules, schedule
from pi_simulator.faults import HTTP_FAULTS, SUB_FAULTS

SCHEDULES = int(os.environ.get("OSIPI_CAMPAIGN_SCHEDULES", "12"))
PER_PIPELINE = 6
OUTCOMES = []


@pytest.mark.parametrize("first", range(0, SCHEDULES, PER_PIPELINE))
def test_schedules_end_with_silver_equal_to_the_truth(first, local_pipeline_factory):
    """Six schedules per pipeline, one after the other (one faulted update each, two for every tenth
    schedule), then the clean update and the reconciliation. 12 schedules in 2 pipelines cover every HTTP
    fault rotation (ten; each single-kind one guaranteed by its failing first calls) and every sub-request
    rotation (five, two schedules each); more would not fit the suite's time budget (docs/faults.md has
    the timings); the longer campaign is in devtools."""
    group = [schedule(n) for n in range(first, min(first + PER_PIPELINE, SCHEDULES))]
    outcome = run_schedules(group, local_pipeline_factory)
    OUTCOMES.append(outcome)
    for s in group:
        print(s.describe(faults_only=s is not group_lead(group)))
    print(outcome.line())
    assert outcome.updates[-1] == "ok", outcome.updates[-1]
    assert sum(outcome.faults.values()) > 0, "the schedule injected no fault"
    r = outcome.reconciliation
    assert r.truth > 50 and r.tags >= 8
    assert (r.missing, r.duplicated, r.unexpected, r.mismatched, r.behind_watermark) == (0, 0, 0, 0, 0), outcome.line()
    assert r.silver == r.truth
    assert outcome.denied_reported, "the point that denies access is not reported as failed with its 403"
    assert outcome.deleted_ok, "silver holds values of the deleted point that it never had"
    if group[0].read_mode == "updates":  # the tags followed Stream Updates between the faults
        assert outcome.followed_windows > 0, outcome.line()


def test_sigkill_in_the_middle_of_an_update_then_rerun(spark):
    """In Stream Updates mode: the killed update's backfill chunks are recorded windows, and the tags it
    registered resume from the markers it committed."""
    result = run_kill_schedule(spark, number=1, read_mode="updates")
    print({k: v for k, v in result.items() if not k.endswith("output")})
    assert result["killed"], "the update finished before it could be killed"
    assert result["rerun_ok"], result["rerun_output"]
    check = result["check"]
    assert check["truth"] > 50
    assert (
        check["missing"],
        check["duplicated"],
        check["unexpected"],
        check["mismatched"],
        check["behind_watermark"],
    ) == (0, 0, 0, 0, 0), check
    assert check["denied_reported"] and check["deleted_ok"]
    # the rerun resumed every tag from the chunks the killed update had committed, not from its start
    resumed = result["resumed"]
    assert resumed["tags_committed"] > 0 and resumed["resumed_from_commit"] == resumed["tags_committed"], resumed


def test_the_campaign_exercised_what_it_claims():
    """Over all schedules: faults of every kind were injected, and late values and edits were caught."""
    if sum(len(o.schedules) for o in OUTCOMES) < 10:
        pytest.skip("needs the schedules above to have run (at least 10)")
    kinds = {k for o in OUTCOMES for k in o.faults}
    print(
        f"{sum(len(o.schedules) for o in OUTCOMES)} schedules, {sum(sum(o.faults.values()) for o in OUTCOMES)} faults injected, "
        f"{sum(o.reconciliation.truth for o in OUTCOMES)} values checked, "
        f"{sum(o.late_values for o in OUTCOMES)} late values and {sum(o.edited_values for o in OUTCOMES)} edits caught"
    )
    assert {f"http:{k}" for k in HTTP_FAULTS} <= kinds, kinds
    assert {f"sub:{k}" for k in SUB_FAULTS} | {"point:failing"} <= kinds, kinds
    assert sum(o.late_values for o in OUTCOMES) > 0 and sum(o.edited_values for o in OUTCOMES) > 0
