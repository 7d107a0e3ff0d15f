"""The values that name a person, as free text may hold them."""

from __future__ import annotations

from typing import Any

_NAMING = ("first_name", "last_name", "company", "street", "consent_ip", "title")


def personal_values(person: dict[str, Any]) -> list[str]:
    """Every spelling of the person that free text in their own rows may hold."""
    values = list(distinctive_values(person))
    first, last = person.get("first_name"), person.get("last_name")
    if first and last:
        values.append(f"{first} {last}")
    for name in _NAMING:
        if person.get(name):
            values.append(str(person[name]))
    if person.get("street") and person.get("house_number"):
        values.append(f"{person['street']} {person['house_number']}")
    values = [v for v in dict.fromkeys(values) if len(v) >= 3]
    return sorted(values, key=len, reverse=True)  # the longest first: "Anna Müller" before "Anna"


def distinctive_values(person: dict[str, Any]) -> list[str]:
    """The spellings that name this person and nobody else: the email address as stored and
    lower-cased."""
    email = (person.get("email") or "").strip()
    return list(dict.fromkeys(v for v in (person.get("email"), email, email.lower()) if v))
