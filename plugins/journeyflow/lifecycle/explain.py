"""Why is this person here: the facts as of T and every phase rule, MATCH or not."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import text

from journeyflow import warehouse
from journeyflow.config import load_config
from journeyflow.lifecycle.facts import compute_facts
from journeyflow.lifecycle.phases import load_phases, strip
from journeyflow.sqlfile import statement


def explain(contact_id: str, run_date: date) -> dict[str, Any]:
    """Facts as of T, each rule tested in order (with the values it reads), the resulting phase,
    and the anonymous visitors linked to the contact (with their events before T)."""
    rules = load_phases()
    params = load_config().rule_params(run_date)
    with warehouse.transaction() as conn:
        compute_facts(conn, params, only=contact_id)
        row = conn.execute(statement("lifecycle/one_contact_facts")).mappings().first()
        if row is None:
            raise LookupError(f"contact {contact_id} is not in the warehouse as of {run_date}")
        facts = dict(row)
        tested, phase = [], None
        for rule in rules:
            hit = conn.execute(
                text(f"select exists (select from ({strip(rule.sql)}) q)"), params
            ).scalar()
            used = [c for c in facts if c != "contact_id" and re.search(rf"\b{c}\b", rule.sql)]
            tested.append({"phase": rule.phase, "priority": rule.priority, "rule": rule.rule,
                           "matched": hit, "values": {c: facts[c] for c in used}})  # fmt: skip
            if hit and phase is None:
                phase = rule.phase
        conn.exec_driver_sql("drop table facts")
        visitors = [
            dict(r)
            for r in conn.execute(
                statement("lifecycle/linked_visitors"),
                {"contact_id": contact_id, "cutoff": params["cutoff"]},
            ).mappings()
        ]
    return {"contact_id": contact_id, "run_date": run_date, "cutoff": params["cutoff"],
            "facts": facts, "rules": tested, "phase": phase, "visitors": visitors}  # fmt: skip
