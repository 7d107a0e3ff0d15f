"""The cockpit's web app, mounted by the Airflow plugin under ``/journeyflow``.

Pages: ``/funnel``, ``/campaigns``, ``/quality``, ``/postal``, ``/contacts``, ``/reports``,
``/runs`` (``?date=D``; the DAG run page opens ``/runs?run_id=...``). Each has a JSON twin
under ``/api/<page>`` with the same numbers, and every table as CSV under
``/api/<page>.csv?table=<name>``. Everything needs an Airflow user (see ``auth``); the one public
route is the unsubscribe link ``/u/<token>``, served by the unsubscribe app mounted last.
(No ``from __future__ import annotations``: FastAPI reads the handlers' annotations.)
"""

import csv
import io
import json
import logging
import re
from collections.abc import Callable
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from journeyflow.cockpit import charts, data
from journeyflow.cockpit.auth import DAG_ID, NotLoggedIn, Viewer, viewer

log = logging.getLogger(__name__)

PAGES = (
    ("funnel", "Funnel"), ("campaigns", "Campaigns"), ("quality", "Data quality"),
    ("postal", "Postal"), ("contacts", "Contact"), ("results", "Results"), ("reports", "Reports"),
    ("runs", "Run summary"),
)  # fmt: skip
DATED = {"funnel": data.funnel, "campaigns": data.campaigns, "quality": data.quality,
         "results": data.results, "reports": data.reports, "runs": data.run}  # fmt: skip
HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "SAMEORIGIN",  # the Airflow UI shows the pages in an iframe
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' "
    "data:; form-action 'self'; frame-ancestors 'self'; base-uri 'none'",
}


_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
DOCS_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "SAMEORIGIN",
    "content-security-policy": "sandbox allow-scripts allow-popups; frame-ancestors 'self'",
}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    text = str(value)
    if _TIMESTAMP.match(text):  # 2026-11-20T23:00:00.123+01:00 -> 2026-11-20 23:00:00 +01:00
        zone = f" {text[-6:]}" if text[-6] in "+-" else ""
        return f"{text[:10]} {text[11:19]}{zone}"
    return text


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["cell"] = _cell
    env.filters["percent"] = lambda v: "" if v is None else f"{v * 100:.1f} %"
    env.filters["quote"] = lambda v: quote(str(v), safe="")
    env.filters["signed"] = lambda v: "" if v is None else f"{v:+,}"
    env.filters["points"] = lambda v: "" if v is None else f"{v * 100:+.1f} points"
    return env


def to_csv(rows: list[dict[str, Any]]) -> str:
    """A table as CSV (comma, header row); cells that a spreadsheet would run as a formula are
    prefixed with ``'``."""
    out = io.StringIO()
    if rows:
        fields = list(dict.fromkeys(k for row in rows for k in row))  # sparse rows: every column
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    k: ("'" + v if isinstance(v, str) and v[:1] in "=+-@\t\r" else v)
                    for k, v in row.items()
                }  # fmt: skip
            )
    return out.getvalue()


def create_app(unsubscribe: FastAPI | None = None) -> FastAPI:
    """The cockpit, with the unsubscribe app (``/u/<token>``, ``/healthz``) mounted behind it."""
    env = environment()
    app = FastAPI(title="journeyflow cockpit", docs_url=None, redoc_url=None, openapi_url=None)
    User = Depends(viewer)  # noqa: N806 (a dependency, used like a type)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable) -> Response:
        response = await call_next(request)
        for name, value in HEADERS.items():  # JSON twins and errors too; the docs and the
            response.headers.setdefault(name, value)  # unsubscribe page set stricter ones
        return response

    @app.exception_handler(NotLoggedIn)
    async def not_logged_in(request: Request, exc: NotLoggedIn) -> Response:
        if request.url.path.startswith(f"{request.scope.get('root_path', '')}/api/"):
            return JSONResponse({"detail": exc.detail}, 401, headers=exc.headers)
        page = (
            "<!doctype html><title>Log in</title><p>The journeyflow cockpit needs an Airflow "
            'user: <a href="/" target="_top">log in to Airflow</a>, then open it again.</p>'
        )
        return HTMLResponse(page, 401, headers={**HEADERS, **(exc.headers or {})})

    async def newest(run_date: date | None) -> tuple[date | None, list[date]]:
        dates = await run_in_threadpool(data.run_dates)
        return run_date or (dates[0] if dates else None), dates

    async def compute(fn: Callable[..., dict], *args: Any) -> dict[str, Any]:
        try:
            return await run_in_threadpool(fn, *args)
        except data.NotFound as exc:
            raise HTTPException(404, str(exc)) from None

    def page(request: Request, name: str, who: Viewer, run_date: date | None, dates: list,
             **ctx: Any) -> HTMLResponse:  # fmt: skip
        base = request.scope.get("root_path", "")
        keep = {k: v for k, v in request.query_params.items() if k in ("q",)}
        query = urlencode({k: v for k, v in {"date": run_date, **keep}.items() if v})

        def csv_of(table: str) -> str:
            return f"{base}/api/{name}.csv?{urlencode({'table': table})}&{query}"

        context = {
            "page": name, "title": dict(PAGES)[name], "pages": PAGES, "base": base,
            "viewer": who, "run_date": str(run_date) if run_date else "", "dates": dates,
            "keep": keep, "csv": csv_of,
        }  # fmt: skip
        html = env.get_template(f"{name}.html").render({**context, **ctx})
        return HTMLResponse(html, headers=HEADERS)

    @app.get("/", include_in_schema=False)
    async def home(request: Request, who: Viewer = User) -> Response:
        return RedirectResponse(f"{request.scope.get('root_path', '')}/funnel", 307)

    # -- pages of one run date ---------------------------------------------------------------------
    def dated_page(name: str) -> None:
        async def html(request: Request, date: date | None = None, who: Viewer = User) -> Response:
            run_date, dates = await newest(date)
            if run_date is None:
                return page(request, name, who, None, dates, data=None, charts={},
                            problem="no run yet: run the pipeline first")  # fmt: skip
            found = await compute(DATED[name], run_date)
            return page(request, name, who, run_date, dates, data=found,
                        charts=charts.for_page(name, found), problem=None,
                        outcome_columns=charts.outcome_columns(found))  # fmt: skip

        async def twin(date: date | None = None, who: Viewer = User) -> Any:
            run_date, _ = await newest(date)
            if run_date is None:
                raise HTTPException(404, "no run yet: run the pipeline first")
            return await compute(DATED[name], run_date)

        async def table(table: str, date: date | None = None, who: Viewer = User) -> Response:
            return as_csv(await twin(date, who), table, f"{name}_{table}")

        app.get(f"/{name}", include_in_schema=False)(html)
        app.get(f"/api/{name}")(twin)
        app.get(f"/api/{name}.csv")(table)

    for name in DATED:
        dated_page(name)

    def as_csv(found: dict[str, Any], table: str, stem: str) -> Response:
        rows = found.get(table)
        if isinstance(rows, dict):  # a record (the contact's facts): one row per field
            rows = [{"name": k, "value": v} for k, v in rows.items()]
        if not isinstance(rows, list):
            tables = ", ".join(k for k, v in found.items() if isinstance(v, list | dict))
            raise HTTPException(404, f"no table {table!r} on this page; there are: {tables}")
        name = f"{stem}_{found.get('run_date') or 'all'}.csv"
        return Response(
            to_csv(rows), media_type="text/csv; charset=utf-8",
            headers={**HEADERS, "content-disposition": f'attachment; filename="{name}"'},
        )  # fmt: skip

    @app.get("/runs/by-id", include_in_schema=False)
    async def run_by_id(
        request: Request, run_id: str, dag_id: str = "", who: Viewer = User
    ) -> Response:
        """The DAG run page's view: the summary of the run date this Airflow run recorded."""
        mine = dag_id in ("", DAG_ID)  # Airflow shows the tab on every DAG's runs
        run_date = await run_in_threadpool(data.run_date_of, run_id) if mine else None
        if run_date is None:
            _, dates = await newest(None)
            why = f"{dag_id or 'this DAG'} run {run_id} has no journeyflow summary"
            return page(request, "runs", who, None, dates, data=None, problem=why)
        base = request.scope.get("root_path", "")
        return RedirectResponse(f"{base}/runs?date={run_date}", 307)

    # -- postal ------------------------------------------------------------------------------------
    @app.get("/postal", include_in_schema=False)
    async def postal_page(request: Request, who: Viewer = User) -> Response:
        found = await run_in_threadpool(data.postal)
        return page(request, "postal", who, None, [], data=found)

    @app.get("/api/postal")
    async def postal_twin(who: Viewer = User) -> Any:
        return await run_in_threadpool(data.postal)

    @app.get("/api/postal.csv")
    async def postal_csv(table: str = "mailings", who: Viewer = User) -> Response:
        return as_csv(await run_in_threadpool(data.postal), table, "postal")

    @app.get("/postal/{campaign}/{run_date}/file", include_in_schema=False)
    async def mailing(campaign: str, run_date: date, who: Viewer = User) -> Response:
        if not who.editor:
            raise HTTPException(403, "mailing files hold addresses: only users who may edit "
                                "the DAG can download them")  # fmt: skip
        found = await run_in_threadpool(data.mailing_file, run_date, campaign)
        if found is None:
            raise HTTPException(404, f"no kept mailing file for {campaign} on {run_date}")
        body, name = found
        log.info("mailing %s of %s downloaded by %s", campaign, run_date, who.name)
        return Response(body, media_type="text/csv; charset=utf-8", headers={
            **HEADERS, "content-disposition": f'attachment; filename="{name}"'})  # fmt: skip

    # -- data docs ---------------------------------------------------------------------------------
    @app.get("/docs/{run_date}/{path:path}", include_in_schema=False)
    async def data_docs(run_date: date, path: str, who: Viewer = User) -> Response:
        from journeyflow.quality.gate import docs_dir

        root = docs_dir(run_date).resolve()
        try:
            target = (root / (path or "index.html")).resolve()
        except ValueError:  # a NUL byte in the path
            target = root
        if not target.is_relative_to(root) or not target.is_file():
            raise HTTPException(404, f"no Data Docs file {path!r} for {run_date}")
        # Great Expectations' pages load scripts from CDNs: run them in a sandbox, never as the
        # Airflow origin (which holds the user's session)
        return FileResponse(target, headers=DOCS_HEADERS)

    # -- contacts ----------------------------------------------------------------------------------
    def contact_page(request: Request, who: Viewer, run_date: date | None, dates: list,
                     **ctx: Any) -> Response:  # fmt: skip
        columns = [
            ("run_date", "run date"),
            ("campaign", "campaign"),
            ("step", "step"),
            ("channel", "channel"),
            ("status", "status"),
            ("sent_at", "sent"),
            ("message_id", "Message-ID"),
        ] + ([("recipient", "to")] if who.editor else [])
        base = request.scope.get("root_path", "")

        def csv_of(table: str) -> str:
            query = {"id": ctx["data"]["contact_id"], "table": table, "date": run_date}
            return f"{base}/api/contact.csv?{urlencode(query)}"

        ctx = {"q": "", "found": None, "problem": None, "data": None, "csv": csv_of, **ctx}
        return page(request, "contacts", who, run_date, dates, message_columns=columns, **ctx)

    @app.get("/contacts", include_in_schema=False)
    async def contacts(request: Request, q: str = "", date: date | None = None,
                       who: Viewer = User) -> Response:  # fmt: skip
        run_date, dates = await newest(date)
        found = await run_in_threadpool(data.search, q, who.editor) if q.strip() else None
        if found and len(found) == 1 and found[0] == q.strip():
            base = request.scope.get("root_path", "")
            when = f"?date={run_date}" if run_date else ""
            return RedirectResponse(f"{base}/contacts/{quote(found[0], safe='')}{when}", 303)
        return contact_page(request, who, run_date, dates, q=q, found=found)

    @app.get("/contacts/{contact_id:path}", include_in_schema=False)
    async def contact(request: Request, contact_id: str, date: date | None = None,
                      who: Viewer = User) -> Response:  # fmt: skip
        run_date, dates = await newest(date)
        if run_date is None:
            return contact_page(request, who, None, dates, problem="no run yet")
        try:
            found = await run_in_threadpool(data.contact, contact_id, run_date, who.editor)
        except data.NotFound as exc:
            return contact_page(request, who, run_date, dates, q=contact_id, problem=str(exc))
        return contact_page(request, who, run_date, dates, q=contact_id, data=found)

    @app.get("/api/contacts")
    async def search_twin(q: str = Query(..., min_length=1), who: Viewer = User) -> Any:
        return {"q": q, "contacts": await run_in_threadpool(data.search, q, who.editor)}

    @app.get("/api/contact.csv")
    async def contact_csv(id: str, table: str, date: date | None = None,
                          who: Viewer = User) -> Response:  # fmt: skip
        found = await contact_twin(id, date, who)
        return as_csv(found, table, f"contact_{quote(id, safe='')}_{table}")

    @app.get("/api/contacts/{contact_id:path}")
    async def contact_twin(contact_id: str, date: date | None = None, who: Viewer = User) -> Any:
        run_date, _ = await newest(date)
        if run_date is None:
            raise HTTPException(404, "no run yet: run the pipeline first")
        return await compute(partial(data.contact, editor=who.editor), contact_id, run_date)

    @app.get("/api/dates")
    async def dates_twin(who: Viewer = User) -> Any:
        return json.loads(json.dumps(await run_in_threadpool(data.run_dates), default=str))

    if unsubscribe is not None:
        app.mount("/", unsubscribe)  # last: only what no cockpit route matched
    return app
