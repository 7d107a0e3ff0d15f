"""Every DAG imports cleanly and keeps the house rules: owner, retries, tags, one run at once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from journeyflow import config as settings

APPROVED_TAGS = {"journeyflow", "lifecycle-marketing", "nightly"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(settings.DAGS_DIR))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "journeyflow_nightly" in dagbag.dags


NO_RETRY = {"needs_attention"}


def all_dags():
    from airflow.dag_processing.dagbag import DagBag

    return list(DagBag(dag_folder=str(settings.DAGS_DIR)).dags.values())


@pytest.mark.parametrize("dag", all_dags(), ids=lambda d: d.dag_id)
def test_house_rules(dag):
    assert dag.tags and set(dag.tags) <= APPROVED_TAGS
    assert dag.max_active_runs == 1
    assert dag.doc_md and "Triage" in dag.doc_md
    for task in dag.tasks:
        assert task.owner and task.owner != "airflow", task.task_id
        # needs_attention reports what a person must settle: a retry cannot change its answer
        assert task.retries >= 2 or task.task_id in NO_RETRY, task.task_id
        assert task.retry_delay >= timedelta(minutes=1), task.task_id
        assert task.execution_timeout is not None, task.task_id


def test_nightly_shape_and_schedule(dagbag):
    dag = dagbag.dags["journeyflow_nightly"]
    assert dag.timetable.expression == "0 2 * * *"
    assert str(dag.timetable.timezone) == "Europe/Berlin"
    down = {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
    assert (
        down["check_connections"] == ["migrate"]
        and not dag.get_task("check_connections").upstream_task_ids
    )
    assert down["migrate"] == ["extract_contacts", "extract_events"]
    assert down["extract_contacts"] == ["load"] and down["extract_events"] == ["load"]
    assert down["load"] == ["quality_gate"]
    assert down["quality_gate"] == ["merge", "quality_gate_failed"]
    assert down["merge"] == ["score"] and down["score"] == ["assign_phases"]
    assert down["report"] == ["decide_campaigns"]
    assert down["decide_campaigns"] == ["choose_campaigns"]
    campaign_tasks = {t for t in down["choose_campaigns"] if t != "no_campaigns"}
    assert campaign_tasks == {
        "birthday.send", "welcome_drip.send", "tripwire_offer.send", "onboarding_tips.send",
        "upsell.send", "testimonial_request.send", "win_back.send", "win_back.export_postal",
    }  # fmt: skip
    assert "no_campaigns" in down["choose_campaigns"]
    assert down["campaigns_done"] == ["measure_results"]
    assert down["measure_results"] == ["summarize"] and down["summarize"] == ["needs_attention"]
    join = dag.get_task("campaigns_done")
    assert str(join.trigger_rule) in (
        "none_failed_min_one_success",
        "TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS",
    )
