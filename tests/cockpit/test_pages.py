"""The cockpit app without an api-server (the Airflow user given): pages before the first run,
escaping, CSV, the Data Docs folder and the mailing file's guard. The real api-server, its login
and the JSON twins against the read models are in tests/e2e/test_cockpit.py."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

import pytest

from journeyflow.cockpit import svg
from journeyflow.cockpit.app import PAGES, create_app, to_csv
from journeyflow.cockpit.auth import Viewer, viewer
from tests.conftest import truncate_everything

D = date(2026, 11, 20)


@pytest.fixture
def client(db):
    from fastapi.testclient import TestClient

    with db.transaction() as conn:
        truncate_everything(conn)

    def as_user(editor: bool) -> TestClient:
        app = create_app()
        app.dependency_overrides[viewer] = lambda: Viewer("ops", editor=editor)
        return TestClient(app, root_path="/journeyflow")

    return as_user


def test_before_the_first_run_every_page_says_so_and_the_twins_are_404(client):
    c = client(True)
    for key, _ in PAGES:
        page = c.get(f"/{key}")
        assert page.status_code == 200, key
        assert "journeyflow" in page.text and 'class="here"' in page.text
    for key in ("funnel", "campaigns", "quality", "reports", "runs"):
        twin = c.get(f"/api/{key}")
        assert twin.status_code == 404 and "run the pipeline first" in twin.json()["detail"]
    assert c.get("/api/postal").json() == {"mailings": []}


def test_an_unknown_contact_is_named_not_a_traceback(client, world):
    from journeyflow.lifecycle.phases import assign_phases

    world.contact()
    assign_phases(D)
    c = client(False)
    page = c.get(f"/contacts/nobody?date={D}")
    assert page.status_code == 200 and "contact nobody is not in the warehouse" in page.text
    assert c.get(f"/api/contacts/nobody?date={D}").status_code == 404


def test_a_csv_cell_that_a_spreadsheet_would_run_is_defused():
    text = to_csv([{"reason": "=HYPERLINK(1)", "n": 2}, {"reason": "+1", "n": -3}])
    assert text.splitlines() == ["reason,n", "'=HYPERLINK(1),2", "'+1,-3"]


def test_chart_labels_are_escaped():
    drawn = svg.bars([("<script>x</script>", 3)], "t & t")
    assert "<script>" not in drawn and "&lt;script&gt;" in drawn and "t &amp; t" in drawn
    lines = svg.lines({"a<b": [("2026-11-19", 1), ("2026-11-20", 2)]}, "trend")
    assert "a&lt;b" in lines and "<polyline" in lines


def test_data_docs_are_served_from_the_run_folder_only(client, tmp_path):
    from journeyflow.quality.gate import docs_dir

    folder = docs_dir(D)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.html").write_text("<html>docs</html>")
    c = client(False)
    assert c.get(f"/docs/{D}/index.html").text == "<html>docs</html>"
    assert c.get(f"/docs/{D}/../../unsubscribe.key").status_code == 404
    assert c.get(f"/docs/{D}/%2e%2e/%2e%2e/unsubscribe.key").status_code == 404


def test_only_editors_download_mailing_files(client):
    assert client(False).get(f"/postal/win_back/{D}/file").status_code == 403
    missing = client(True).get(f"/postal/win_back/{D}/file")
    assert missing.status_code == 404 and "no kept mailing file" in missing.json()["detail"]


def test_a_csv_of_a_table_the_page_does_not_have_names_the_ones_it_has(client):
    from journeyflow import warehouse

    with warehouse.transaction() as conn:
        conn.exec_driver_sql(
            "insert into journeyflow.pipeline_runs (run_date, run_id, status, started_at) "
            f"values ('{D}', 'r1', 'success', now())"
        )
    wrong = client(True).get(f"/api/quality.csv?table=nope&date={D}")
    assert wrong.status_code == 404 and "there are: checks, quarantine" in wrong.json()["detail"]


def test_the_dag_run_tab_finds_a_run_of_the_cli_by_its_airflow_run_id(client):
    from journeyflow import warehouse

    airflow_id = "manual__2026-11-20T23:00:00+00:00"
    with warehouse.transaction() as conn:
        conn.exec_driver_sql(
            "insert into journeyflow.pipeline_runs (run_date, run_id, status, started_at) values "
            f"('{D}', '{airflow_id} (journeyflow run, pid 42 on vm)', 'success', now())"
        )
    c = client(False)
    found = c.get("/runs/by-id", params={"run_id": airflow_id}, follow_redirects=False)
    assert found.status_code == 307 and found.headers["location"].endswith(f"/runs?date={D}")
    other = c.get("/runs/by-id", params={"run_id": "scheduled__x", "dag_id": "other_dag"})
    assert (
        other.status_code == 200 and "other_dag run scheduled__x has no journeyflow" in other.text
    )


def test_a_crafted_night_shows_exactly_its_numbers(client, world, cast):
    """One contact per campaign (tests/conftest.py ``cast``): the funnel counts orders, the
    Campaigns twin equals v_campaign_decisions, the contact page says why."""
    from journeyflow import warehouse
    from journeyflow.lifecycle.reports import report
    from tests.campaign_world import run_day

    run_day(world, D)
    report(D)
    c = client(False)
    funnel = c.get(f"/api/funnel?date={D}").json()
    # no order: welcome, tripwire, awareness; 1-2 orders: 7; 4 orders: testimonial
    assert [(s["stage"], s["people"]) for s in funnel["funnel"]] == [
        ("flyby", 0), ("known", 3), ("customer", 7), ("regular", 1)
    ]  # fmt: skip
    assert [s["to_next"] for s in funnel["funnel"]] == [
        1.0, round(8 / 11, 4), round(1 / 8, 4), None
    ]  # fmt: skip
    campaigns = c.get(f"/api/campaigns?date={D}").json()
    with warehouse.transaction() as conn:
        view = conn.exec_driver_sql(
            "select campaign, step, channel, decision, reason, count(*) from "
            f"journeyflow.v_campaign_decisions where run_date = '{D}' group by 1, 2, 3, 4, 5"
        ).all()
    assert sorted(tuple(r.values()) for r in campaigns["rows"]) == sorted(map(tuple, view))
    upsell = {o["campaign"]: o for o in campaigns["outcomes"]}["upsell"]
    assert (upsell["sent"], upsell["excluded"]) == (1, 2)
    bad_payer = c.get(f"/api/contacts/{cast['upsell_bad_payer']}?date={D}").json()
    (decision,) = [d for d in bad_payer["decisions"] if d["campaign"] == "upsell"]
    assert decision["decision"] == "excluded" and decision["reason"].startswith("bad payer")
    rules = c.get(f"/api/contact.csv?id={cast['upsell_bad_payer']}&table=facts&date={D}")
    assert rules.status_code == 200 and rules.text.startswith("name,value")


def test_a_night_that_stopped_before_its_reports_still_shows_every_page(client, world):
    from journeyflow import warehouse

    world.contact()
    world.run(D)
    with warehouse.transaction() as conn:  # the next night started, then failed at the gate
        conn.exec_driver_sql(
            "insert into journeyflow.pipeline_runs (run_date, run_id, status, started_at) "
            "values ('2026-11-21', 'scheduled__x', 'failed', now())"
        )
    c = client(True)
    for key, _ in PAGES:
        assert c.get(f"/{key}").status_code == 200, key
    assert c.get("/api/funnel").json()["funnel"] == []


def test_every_response_is_kept_out_of_caches(client):
    c = client(True)
    for path in ("/funnel", "/api/postal", "/api/funnel", "/api/postal.csv"):
        response = c.get(path)
        assert response.headers["cache-control"] == "no-store", path
        assert response.headers["x-content-type-options"] == "nosniff", path


def test_the_tab_on_another_dags_run_shows_nothing_of_ours(client):
    from journeyflow import warehouse

    with warehouse.transaction() as conn:
        conn.exec_driver_sql(
            "insert into journeyflow.pipeline_runs (run_date, run_id, status, started_at) "
            f"values ('{D}', 'scheduled__2026-11-20T01:00:00+00:00', 'success', now())"
        )
    other = client(False).get(
        "/runs/by-id",
        params={"run_id": "scheduled__2026-11-20T01:00:00+00:00", "dag_id": "some_other_dag"},
        follow_redirects=False,
    )
    assert other.status_code == 200 and "has no journeyflow summary" in other.text


@pytest.mark.parametrize("odd", ["a/b", "x?y", "p#q", "Z.csv"])
def test_contact_ids_with_url_characters_open_their_own_page(client, world, odd):
    world.contact(contact_id=odd)
    world.contact(contact_id=odd[0])  # the contact a broken link would show instead
    world.run(D)
    c = client(True)
    found = c.get("/contacts", params={"q": odd, "date": str(D)})
    assert found.status_code == 200 and f"{odd}: <span" in found.text.replace("&#39;", "'")
    twin = c.get(f"/api/contacts/{quote(odd, safe='')}", params={"date": str(D)})
    assert twin.status_code == 200 and twin.json()["contact_id"] == odd


def test_a_csv_keeps_every_column_of_sparse_rows():
    text = to_csv([{"campaign": "a", "held": 2}, {"campaign": "b", "exported": 3}])
    assert text.splitlines() == ["campaign,held,exported", "a,2,", "b,,3"]
