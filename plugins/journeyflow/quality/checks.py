"""The expectations that guard the staged batch, as code next to the data they guard.

Every check has a name (the key marketing ops see in results and set in ``journeyflow.yaml``),
the staged table it reads, a default severity and, for row checks, the share of rows that must
pass (GX ``mostly``). ``critical`` stops the run before merge; ``warning`` is recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

# Syntax only, kept simple enough that PostgreSQL checks a million addresses in well under a second
EMAIL_REGEX = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
CONSENT_STATES = ("confirmed", "pending", "none", "revoked")
POSTAL_CODE_DIGITS = {"DE": 5, "AT": 4, "CH": 4}
EVENT_TYPES = (
    "page_view", "comment", "newsletter_signup", "email_open", "email_click", "purchase",
    "review", "referral", "payment_overdue", "unsubscribe", "email_bounce", "postal_return",
    "identify", "erasure_request",
)  # fmt: skip
_ISO_CODES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO
    DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU
    GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW
    KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU
    MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW
    PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
    TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA
    ZM ZW"""
ISO_COUNTRIES = tuple(_ISO_CODES.split())

CRITICAL, WARNING = "critical", "warning"


@dataclass(frozen=True)
class RunFacts:
    """What the checks need to know about the run: its cut-off and the volume history."""

    cutoff: datetime
    oldest_event: datetime
    future_grace_hours: float
    volume_median: dict[str, float | None]  # per stream, over the last runs; None = no history
    volume_factor: float
    volume_min_rows: int = 0  # batches up to this size always pass the volume check


@dataclass(frozen=True)
class Check:
    name: str
    table: str  # contacts | events (the staged batch)
    severity: str
    description: str
    build: Callable[[RunFacts, float | None], Any | None]  # -> a GX expectation, or None to skip
    column: str | None = None
    min_valid: float | None = None  # share of rows that must pass; None = not a row check


def _gx():
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    return gxe, Column


def _mostly(value: float | None) -> dict:
    return {} if value is None else {"mostly": value}


def not_null(column: str, where: tuple[str, str] | None = None):
    def build(facts: RunFacts, mostly: float | None):
        gxe, col = _gx()
        cond = {"row_condition": col(where[0]) == where[1]} if where else {}
        return gxe.ExpectColumnValuesToNotBeNull(column=column, **cond, **_mostly(mostly))

    return build


def unique(column: str):
    def build(facts: RunFacts, mostly: float | None):
        gxe, _ = _gx()
        return gxe.ExpectColumnValuesToBeUnique(column=column, **_mostly(mostly))

    return build


def in_set(column: str, values: tuple[str, ...]):
    def build(facts: RunFacts, mostly: float | None):
        gxe, _ = _gx()
        return gxe.ExpectColumnValuesToBeInSet(
            column=column, value_set=list(values), **_mostly(mostly)
        )

    return build


def matches(column: str, regex: str, where: tuple[str, str] | None = None):
    def build(facts: RunFacts, mostly: float | None):
        gxe, col = _gx()
        cond = {"row_condition": col(where[0]) == where[1]} if where else {}
        return gxe.ExpectColumnValuesToMatchRegex(
            column=column, regex=regex, **cond, **_mostly(mostly)
        )

    return build


def between(column: str, low=None, high=None, where: tuple[str, str] | None = None):
    def build(facts: RunFacts, mostly: float | None):
        gxe, col = _gx()
        cond = {"row_condition": col(where[0]) == where[1]} if where else {}
        lo = low(facts) if callable(low) else low
        hi = high(facts) if callable(high) else high
        return gxe.ExpectColumnValuesToBeBetween(
            column=column, min_value=lo, max_value=hi, **cond, **_mostly(mostly)
        )

    return build


def volume_not_exploding(stream: str):
    def build(facts: RunFacts, mostly: float | None):
        median = facts.volume_median.get(stream)
        if not median:  # no history yet: nothing to compare with
            return None
        gxe, _ = _gx()
        return gxe.ExpectTableRowCountToBeBetween(
            min_value=0, max_value=max(int(median * facts.volume_factor), facts.volume_min_rows)
        )

    return build


def volume_not_empty(stream: str):
    def build(facts: RunFacts, mostly: float | None):
        if not facts.volume_median.get(stream):  # nothing expected
            return None
        gxe, _ = _gx()
        return gxe.ExpectTableRowCountToBeBetween(min_value=1)

    return build


def events_of_known_contacts(facts: RunFacts, mostly: float | None):
    gxe, _ = _gx()
    return gxe.UnexpectedRowsExpectation(
        unexpected_rows_query=(
            "select b.event_id, b.contact_id "
            "from (select event_id, contact_id, type from {batch}) b "
            "where b.contact_id is not null and b.type <> 'erasure_request' "
            "and not exists (select from journeyflow.contacts c "
            "where c.contact_id = b.contact_id) "
            "and not exists (select from journeyflow_staging.contacts s "
            "where s.contact_id = b.contact_id)"
        ),
        description="every staged event belongs to a contact in the warehouse or in this batch "
        "(or to an anonymous visitor)",
    )


def _hours(facts: RunFacts) -> Any:
    from datetime import timedelta

    return facts.cutoff + timedelta(hours=facts.future_grace_hours)


CHECKS: tuple[Check, ...] = (
    # -- contacts
    Check("contacts_id_present", "contacts", CRITICAL, "every contact has an id",
          not_null("contact_id"), "contact_id", 1.0),
    Check("contacts_id_unique", "contacts", WARNING,
          "a contact comes once per batch (the newest version is merged otherwise)",
          unique("contact_id"), "contact_id", 1.0),
    Check("contacts_email_syntax", "contacts", CRITICAL,
          "emails are syntactically valid; single bad ones are flagged and never mailed",
          matches("email", EMAIL_REGEX), "email", 0.9),
    Check("contacts_consent_status", "contacts", CRITICAL,
          "email consent status is confirmed, pending, none or revoked",
          in_set("consent_status", CONSENT_STATES), "consent_status", 0.99),
    Check("contacts_consent_proof", "contacts", CRITICAL,
          "a confirmed consent has its double-opt-in time (confirmed_at)",
          not_null("consent_confirmed_at", ("consent_status", "confirmed")),
          "consent_confirmed_at", 0.99),
    Check("contacts_country_iso", "contacts", WARNING, "countries are ISO 3166-1 alpha-2 codes",
          in_set("country", ISO_COUNTRIES), "country", 0.99),
    *(
        Check(f"contacts_postal_code_{cc.lower()}", "contacts", WARNING,
              f"postal codes in {cc} have {digits} digits",
              matches("postal_code", f"^[0-9]{{{digits}}}$", ("country", cc)), "postal_code", 0.95)
        for cc, digits in POSTAL_CODE_DIGITS.items()
    ),
    Check("contacts_volume", "contacts", CRITICAL,
          "the batch is at most volume_factor times the median of the last runs",
          volume_not_exploding("contacts")),
    Check("contacts_not_empty", "contacts", WARNING,
          "a batch is not empty when the last runs brought data", volume_not_empty("contacts")),
    # -- events
    Check("events_id_present", "events", CRITICAL, "every event has an id",
          not_null("event_id"), "event_id", 1.0),
    Check("events_id_unique", "events", WARNING,
          "an event comes once per batch (merged once otherwise)",
          unique("event_id"), "event_id", 1.0),
    Check("events_type_known", "events", WARNING, "event types are ones the rulebook knows",
          in_set("type", EVENT_TYPES), "type", 0.99),
    Check("events_not_after_cutoff", "events", WARNING,
          "no event lies after the run's cut-off (plus future_grace_hours)",
          between("occurred_at", high=_hours), "occurred_at", 0.99),
    Check("events_not_absurdly_old", "events", CRITICAL,
          "no event is older than oldest_event",
          between("occurred_at", low=lambda f: f.oldest_event), "occurred_at", 0.999),
    Check("events_purchase_amount", "events", CRITICAL, "purchases have an amount",
          not_null("amount", ("type", "purchase")), "amount", 0.99),
    Check("events_purchase_amount_positive", "events", CRITICAL, "purchase amounts are >= 0",
          between("amount", low=0, where=("type", "purchase")), "amount", 0.99),
    Check("events_purchase_currency", "events", CRITICAL, "purchases have a currency",
          not_null("currency", ("type", "purchase")), "currency", 0.99),
    Check("events_review_rating", "events", CRITICAL, "review ratings are 1 to 5",
          between("rating", 1, 5, ("type", "review")), "rating", 0.99),
    Check("events_contact_known", "events", CRITICAL,
          "every event belongs to a known contact", events_of_known_contacts, "contact_id"),
    Check("events_volume", "events", CRITICAL,
          "the batch is at most volume_factor times the median of the last runs",
          volume_not_exploding("events")),
    Check("events_not_empty", "events", WARNING,
          "a batch is not empty when the last runs brought data", volume_not_empty("events")),
)  # fmt: skip

CHECK_NAMES = frozenset(c.name for c in CHECKS)


def configured(overrides: dict[str, dict[str, Any]]) -> tuple[Check, ...]:
    """The checks with severity and min_valid from ``quality.checks`` in the config."""
    out = []
    for check in CHECKS:
        o = overrides.get(check.name) or {}
        out.append(
            replace(
                check,
                severity=o.get("severity", check.severity),
                min_valid=o.get("min_valid", check.min_valid),
            )
        )
    return tuple(c for c in out if c.severity != "off")
