"""Lifecycle: contact facts and scores, phases from ``sql/phases/``, reports, explanations."""

from journeyflow.lifecycle.explain import explain
from journeyflow.lifecycle.facts import compute_facts, score
from journeyflow.lifecycle.phases import (
    PHASES_DIR,
    PhaseFileError,
    PhaseRule,
    assign_phases,
    check_phases,
    load_phases,
)
from journeyflow.lifecycle.reports import read_report, report

__all__ = [
    "PHASES_DIR", "PhaseFileError", "PhaseRule", "assign_phases", "check_phases",
    "compute_facts", "explain", "load_phases", "read_report", "report", "score",
]  # fmt: skip
