"""The cockpit in a real Airflow api-server: the plugin loaded, every route behind an Airflow
user, the JSON twins equal to the read models, the unsubscribe link through the api-server, and
headless Chromium screenshots of every page after logging in.

The scenario (one module fixture): night 1 (D-3) and night 2 (D) of the demo shop by
``dag.test()`` in this process; between them, half of night 1's welcome emails are unsubscribed
by POSTing their List-Unsubscribe link to the api-server.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import date, datetime, time, timedelta
from email import message_from_string, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from journeyflow.local.stack import AirflowStack
from tests.conftest import fresh_database, truncate_everything, warehouse_connection

pytestmark = pytest.mark.slow

BERLIN = ZoneInfo("Europe/Berlin")
D = date(2026, 10, 20)  # a date no other test runs: dag.test() replaces runs of the same date
NIGHT_1 = D - timedelta(days=3)
PAGES = ("funnel", "campaigns", "quality", "postal", "contacts", "reports", "runs")
ARTEFACTS = Path(__file__).resolve().parents[2] / "tests" / "artefacts" / "cockpit"
KEYS = "k1:" + "c" * 40


def _night(dag, day: date) -> None:
    run = dag.test(logical_date=datetime.combine(day, time(2), tzinfo=BERLIN))
    assert str(getattr(run.state, "value", run.state)) == "success"


def _link(message: str) -> str:
    return message_from_string(message, policy=policy.default)["List-Unsubscribe"].strip("<>")


@pytest.fixture(scope="module")
def cockpit(warehouse_url, airflow_db, tmp_path_factory):
    """The api-server (with scheduler and dag-processor) serving the plugin, and the scenario."""
    from journeyflow import migrate, warehouse
    from journeyflow.config import paths
    from journeyflow.local import airflow_home as airflow_env

    root = tmp_path_factory.mktemp("cockpit")
    meta = fresh_database(warehouse_url, "airflow_cockpit")
    stack = AirflowStack(root / "home", meta, {
        "AIRFLOW_CONN_JOURNEYFLOW_DB": json.dumps(warehouse_connection(warehouse_url)),
        "JOURNEYFLOW_HOME": str(paths.home()),  # the Data Docs of the runs below
        "JOURNEYFLOW_MODE": "",
    })  # fmt: skip
    unsubscribe = {"conn_type": "generic", "host": f"{stack.url}/journeyflow/u/", "password": KEYS}
    stack.env["AIRFLOW_CONN_JOURNEYFLOW_UNSUBSCRIBE"] = json.dumps(unsubscribe)
    saved = {k: os.environ.get(k) for k in ("AIRFLOW_CONN_JOURNEYFLOW_UNSUBSCRIBE",
                                            "JOURNEYFLOW_DEMO_CONTACTS")}  # fmt: skip
    os.environ["AIRFLOW_CONN_JOURNEYFLOW_UNSUBSCRIBE"] = json.dumps(unsubscribe)
    os.environ["JOURNEYFLOW_DEMO_CONTACTS"] = "600"
    migrate.migrate()
    with warehouse.transaction() as conn:
        truncate_everything(conn)
    (paths.home() / "demo_source.json").unlink(missing_ok=True)
    try:
        stack.start()
        dag = airflow_env.load_dag()
        for task in dag.tasks:
            task.retries = 0
        _night(dag, NIGHT_1)
        with warehouse.transaction() as conn:
            welcomed = conn.exec_driver_sql(
                "select contact_id, message from journeyflow.outbox where campaign = "
                f"'welcome_drip' and step = 1 and run_date = '{NIGHT_1}' and status = 'sent' "
                "order by contact_id"
            ).all()
        assert len(welcomed) >= 4, "the scenario needs welcome emails on night 1"
        gone = welcomed[::2]
        scenario = {"welcomed": [c for c, _ in welcomed], "gone": [c for c, _ in gone]}
        first = requests.get(_link(gone[0].message), timeout=10)  # a link scanner's GET
        with warehouse.transaction() as conn:
            scenario["suppressions_after_get"] = conn.exec_driver_sql(
                "select count(*) from journeyflow.suppressions"
            ).scalar()
        scenario["get"] = (first.status_code, first.text)
        scenario["posts"] = [
            requests.post(_link(m), data={"List-Unsubscribe": "One-Click"}, timeout=10).status_code
            for _, m in gone
        ]
        _night(dag, D)
        yield stack, scenario
    finally:
        stack.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def get(stack: AirflowStack, path: str, user: str | None = "admin", **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {stack.token(user)}"} if user else {}
    return requests.get(f"{stack.url}/journeyflow{path}", headers=headers, timeout=30, **kwargs)


def rows(sql: str) -> list[dict]:
    from journeyflow import warehouse

    with warehouse.transaction() as conn:
        return [dict(r._mapping) for r in conn.exec_driver_sql(sql)]


def test_every_cockpit_route_needs_an_airflow_user(cockpit):
    stack, _ = cockpit
    routes = [f"/{p}" for p in PAGES] + [f"/api/{p}" for p in PAGES if p != "contacts"] + [
        "/", "/api/contacts?q=C", "/api/funnel.csv?table=phases", "/runs/by-id?run_id=x",
        f"/docs/{D}/index.html", f"/postal/win_back/{D}/file", "/api/dates",
    ]  # fmt: skip
    for route in routes:
        anonymous = get(stack, route, user=None, allow_redirects=False)
        assert anonymous.status_code == 401, route
        forged = requests.get(f"{stack.url}/journeyflow{route}", timeout=10,
                              headers={"Authorization": "Bearer not.a.jwt"})  # fmt: skip
        assert forged.status_code == 401, route
    cookie = requests.get(f"{stack.url}/journeyflow/api/funnel", timeout=10,
                          cookies={"_token": stack.token("viewer")})  # fmt: skip
    assert cookie.status_code == 200 and cookie.json()["run_date"] == str(D)
    assert get(stack, "/funnel", user="viewer").status_code == 200
    # the one public route: the unsubscribe link
    assert requests.get(f"{stack.url}/journeyflow/u/not-a-token", timeout=10).status_code == 400


def test_the_plugin_puts_its_pages_in_a_menu_and_on_the_dag_run_page(cockpit):
    stack, _ = cockpit
    plugins = stack.api("GET", "/plugins")["plugins"]
    (ours,) = [p for p in plugins if p["name"] == "journeyflow"]
    views = {v["url_route"]: v for v in ours["external_views"]}
    assert {f"journeyflow-{p}" for p in PAGES} <= set(views)
    assert views["journeyflow"]["nav_top_level"] is True
    assert {views[f"journeyflow-{p}"]["category"] for p in PAGES} == {"Journeyflow"}
    run_view = views["journeyflow-run"]
    assert run_view["destination"] == "dag_run" and "{RUN_ID}" in run_view["href"]
    (run,) = rows(f"select run_id from journeyflow.pipeline_runs where run_date = '{D}'")
    href = run_view["href"].replace("{DAG_ID}", "journeyflow_nightly")
    page = requests.get(
        stack.url + href.replace("{RUN_ID}", requests.utils.quote(run["run_id"])),
        cookies={"_token": stack.token("viewer")}, timeout=30,
    )  # fmt: skip
    assert page.status_code == 200 and f"Run of {D}" in page.text and "SUCCESS" in page.text


def test_the_json_twins_equal_the_read_models(cockpit):
    stack, _ = cockpit
    funnel = get(stack, f"/api/funnel?date={D}").json()
    counts = "select phase, contacts from journeyflow.v_phase_counts where run_date = '{}'"
    phases = {r["phase"]: r["contacts"] for r in rows(counts.format(D))}
    before = {r["phase"]: r["contacts"] for r in rows(counts.format(NIGHT_1))}
    assert {p["phase"]: p["contacts"] for p in funnel["phases"]} == phases
    assert {p["phase"]: p["change"] for p in funnel["phases"]} == {
        p: n - before.get(p, 0) for p, n in phases.items()
    }
    assert {r["run_date"] for r in funnel["trend"]} == {str(NIGHT_1), str(D)}
    stages = rows(f"select stage, people from journeyflow.v_funnel where run_date = '{D}'")
    assert {s["stage"]: s["people"] for s in funnel["funnel"]} == {
        s["stage"]: s["people"] for s in stages
    }
    flags = rows("select order_count from journeyflow.v_contact_flags")
    known = [s for s in funnel["funnel"] if s["stage"] != "flyby"]  # flybys are no contacts
    assert sum(s["people"] for s in known) == len(flags) == sum(phases.values())
    assert funnel["funnel"][0]["stage"] == "flyby" and funnel["funnel"][0]["people"] > 0
    assert {s["stage"]: s["people"] for s in funnel["funnel"]}["regular"] == sum(
        1 for f in flags if f["order_count"] >= 3
    )

    campaigns = get(stack, f"/api/campaigns?date={D}").json()
    decided = rows(
        "select campaign, step, channel, decision, reason, count(*) as contacts from "
        f"journeyflow.v_campaign_decisions where run_date = '{D}' group by 1, 2, 3, 4, 5"
    )
    key = lambda r: (r["campaign"], r["step"], r["channel"], r["decision"], r["reason"])  # noqa: E731
    assert sorted(map(key, campaigns["rows"])) == sorted(map(key, decided))
    assert {key(r): r["contacts"] for r in campaigns["rows"]} == {
        key(r): r["contacts"] for r in decided
    }
    assert sum(o["contacts"] for o in campaigns["outcomes"]) == sum(r["contacts"] for r in decided)

    quality = get(stack, f"/api/quality?date={D}").json()
    checks = rows(f"select check_name, verdict from journeyflow.validation_results "
                  f"where run_date = '{D}'")  # fmt: skip
    assert {c["check"]: c["verdict"] for c in quality["checks"]} == {
        c["check_name"]: c["verdict"] for c in checks
    }
    assert quality["passed"] is True and quality["data_docs"] is True
    docs = get(stack, f"/docs/{D}/index.html")
    assert docs.status_code == 200 and "<html" in docs.text.lower()

    postal = get(stack, "/api/postal").json()
    exports = rows("select campaign, run_date::text, rows from journeyflow.postal_exports")
    assert sorted(
        (m["campaign"], m["run_date"], m["pieces"]) for m in postal["mailings"]
    ) == sorted((e["campaign"], e["run_date"], e["rows"]) for e in exports)
    assert get(stack, f"/api/funnel.csv?table=phases&date={D}").text.splitlines()[0] == (
        "phase,contacts,change"
    )


def test_names_and_addresses_only_for_users_who_may_edit_the_dag(cockpit):
    stack, _ = cockpit
    (someone,) = rows(
        "select o.contact_id, c.last_name, o.recipient from journeyflow.outbox o join "
        "journeyflow.contacts c using (contact_id) where o.channel = 'email' and c.last_name "
        "is not null order by o.outbox_id limit 1"
    )
    as_admin = get(stack, f"/api/contacts/{someone['contact_id']}?date={D}").json()
    as_viewer = get(stack, f"/api/contacts/{someone['contact_id']}?date={D}", user="viewer").json()
    assert as_admin["person"]["last_name"] == someone["last_name"]
    assert as_viewer["person"] is None
    assert someone["recipient"] in json.dumps(as_admin)
    page = get(stack, f"/contacts/{someone['contact_id']}?date={D}", user="viewer").text
    assert someone["last_name"] not in page and someone["recipient"] not in page
    assert as_viewer["phase"] == as_admin["phase"] and "MATCH" in page
    # the mailing file holds addresses
    (mailing,) = rows("select campaign, run_date from journeyflow.postal_exports limit 1")
    path = f"/postal/{mailing['campaign']}/{mailing['run_date']}/file"
    assert get(stack, path, user="viewer").status_code == 403
    file = get(stack, path)
    assert file.status_code == 200 and file.text.startswith("Kundennummer;")


def test_the_unsubscribe_link_through_the_api_server_and_the_next_run_honours_it(cockpit):
    _, scenario = cockpit
    status, text = scenario["get"]
    assert status == 200 and "<form" in text and scenario["suppressions_after_get"] == 0
    assert scenario["posts"] == [200] * len(scenario["gone"])
    gone, stayed = set(scenario["gone"]), set(scenario["welcomed"]) - set(scenario["gone"])
    suppressions = "select contact_id from journeyflow.suppressions where reason = '{}'"
    suppressed = {r["contact_id"] for r in rows(suppressions.format("unsubscribe_link"))}
    assert suppressed == gone
    night_2 = rows(
        "select contact_id, decision, reason from journeyflow.v_campaign_decisions "
        f"where run_date = '{D}' and campaign = 'welcome_drip'"
    )
    mailed = {r["contact_id"] for r in rows(
        f"select contact_id from journeyflow.outbox where run_date = '{D}'")}  # fmt: skip
    assert not mailed & gone, "nobody who unsubscribed got anything on the next night"
    assert {r["contact_id"] for r in night_2 if r["decision"] == "sent"} & stayed
    # they are no longer reachable by email, and the facts say why
    blocked = rows("select contact_id, email_ok, email_block from journeyflow.contact_facts")
    assert {b["contact_id"]: (b["email_ok"], b["email_block"]) for b in blocked if b["contact_id"]
            in gone} == {c: (False, "unsubscribed (link in an email)") for c in gone}  # fmt: skip


def test_every_page_in_headless_chromium_after_logging_in(cockpit):
    from playwright.sync_api import sync_playwright

    stack, _ = cockpit
    browser_path = shutil.which("chromium")
    assert browser_path, (
        "Debian chromium is missing: make test installs it (apt-get install chromium)"
    )
    (ARTEFACTS / "top").mkdir(parents=True, exist_ok=True)
    phases = rows(f"select phase, contacts from journeyflow.v_phase_counts where run_date = '{D}'")
    sent = rows(
        "select count(*) as n from journeyflow.v_campaign_decisions "
        f"where run_date = '{D}' and campaign = 'welcome_drip' and decision = 'sent'"
    )[0]["n"]
    (someone,) = rows("select contact_id from journeyflow.contact_facts order by 1 limit 1")
    expected = {
        "funnel": [f"{p['contacts']:,}" for p in phases],
        "campaigns": ["welcome_drip", f"{sent:,}"],
        "quality": ["The gate passed"],
        "postal": ["win_back", "delivered"],
        "contacts": [someone["contact_id"], "MATCH"],
        "reports": ["Engagement levels", "Lifetime value"],
        "runs": [f"Run of {D}", "SUCCESS"],
    }
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 720})
        page.goto(f"{stack.url}/auth/login")  # Airflow's own login form
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", stack.passwords["admin"])
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"^(?!.*/auth/login).*$"), timeout=60_000)
        for name in PAGES:
            path = f"/contacts/{someone['contact_id']}" if name == "contacts" else f"/{name}"
            response = page.goto(f"{stack.url}/journeyflow{path}")
            assert response is not None and response.status == 200, name
            text = page.inner_text("body")
            for needle in expected[name]:
                assert needle in text, f"{name}: {needle!r} not on the page"
            page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)
            page.screenshot(path=str(ARTEFACTS / "top" / f"{name}.png"))  # for the README
        # inside the Airflow UI: the top navigation's entry opens the cockpit in a frame
        page.goto(f"{stack.url}/plugin/journeyflow")
        frame = page.frame_locator("iframe").first
        frame.get_by_text(f"Funnel {D}").wait_for(timeout=60_000)
        page.screenshot(path=str(ARTEFACTS / "top" / "airflow-ui.png"))
        browser.close()
    assert sorted(f.stem for f in ARTEFACTS.glob("*.png")) == sorted(PAGES)
    assert (ARTEFACTS / "top" / "airflow-ui.png").is_file()
