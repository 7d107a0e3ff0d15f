"""The kit that reads ``journeyflow.yaml``: one mapping at a dotted path, and typed getters.

Every mistake is one ``ConfigError`` line that starts with the config file and names the key,
what it must be and what it got::

    journeyflow.yaml: campaigns.sender.retries must be a whole number >= 0, got -1
    journeyflow.yaml: unknown key 'campagins' at the top level; did you mean 'campaigns'? (...)

``Section(data, "campaigns.sender", KEYS)`` refuses keys it does not know, then
``section.whole("retries", 3, at_least=0)`` and friends read one key each. The same checks exist
as functions (``whole_number(value, path, ...)``) for values that are not under a fixed key.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NoReturn

from journeyflow.config.model import ConfigError
from journeyflow.config.paths import config_path


class _Required:
    """The default of a key that must be given (and the value of one left out)."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


def fail(message: str) -> NoReturn:
    """Raise the one-line ``ConfigError``: the config file, then ``message``."""
    raise ConfigError(f"{config_path()}: {message}")


def shown(value: Any) -> str:
    """A value as the error line shows it: short, and saying what YAML made of it."""
    if value is None:
        return "nothing (null)"
    if value is REQUIRED:
        return "nothing (the key is missing)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a yes/no flag)"
    if isinstance(value, Mapping):
        kind = "a mapping "
    elif isinstance(value, list | tuple):
        kind = "a list "
    elif isinstance(value, datetime):
        kind = "a timestamp "
    elif isinstance(value, date):
        return f"the date {value.isoformat()}"
    else:
        kind = ""
    try:
        text = repr(value)
    except ValueError:  # an int of more digits than Python prints
        return "a number too large to show"
    return kind + (text if len(text) <= 60 else text[:57] + "...")


def suggestion(word: Any, known: Iterable[str]) -> str | None:
    """The known name closest to ``word`` (difflib), if any is close enough."""
    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6)
    return close[0] if close else None


def unknown(key: Any, path: str, known: Iterable[str]) -> NoReturn:
    """Refuse ``key`` under ``path``: a "did you mean" and the known keys."""
    names = sorted(str(k) for k in known)
    where = f"'{key}' at the top level" if not path else f"{path}.{key}"
    guess = suggestion(key, names)
    hint = f"; did you mean '{guess}'?" if guess else ""
    listing = ", ".join(names) or "none"
    fail(f"unknown key {where}{hint} ({'known' if not path else f'known in {path}'}: {listing})")


@dataclass(frozen=True)
class Range:
    """Bounds of a number: ``at_least``/``at_most`` inclusive, ``above``/``below`` exclusive."""

    at_least: float | None = None
    above: float | None = None
    at_most: float | None = None
    below: float | None = None

    def __contains__(self, value: float) -> bool:
        return (
            (self.at_least is None or value >= self.at_least)
            and (self.above is None or value > self.above)
            and (self.at_most is None or value <= self.at_most)
            and (self.below is None or value < self.below)
        )

    def describe(self) -> str:
        """``>= 0``, ``from 1 to 32``, ``> 0 and <= 1``; empty without bounds."""
        low = f">= {num(self.at_least)}" if self.at_least is not None else None
        low = f"> {num(self.above)}" if self.above is not None else low
        high = f"<= {num(self.at_most)}" if self.at_most is not None else None
        high = f"< {num(self.below)}" if self.below is not None else high
        if low and high and low.startswith(">=") and high.startswith("<="):
            return f"from {num(self.at_least)} to {num(self.at_most)}"
        return " and ".join(part for part in (low, high) if part)


def num(value: float | None) -> str:
    """1.0 -> "1", 0.5 -> "0.5"."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _must(path: str, what: str, bounds: Range, value: Any, example: str = "") -> NoReturn:
    rule = bounds.describe()
    rule = "positive" if rule == "> 0" and what.startswith(("number", "whole")) else rule
    if rule == "positive":
        what = f"positive {what}"
    elif rule:
        what = f"{what} {rule}"
    article = "an" if what[0] in "aeiou" else "a"
    fail(f"{path} must be {article} {what}{example}, got {shown(value)}")


def number(value: Any, path: str, bounds: Range = Range(), *, whole: bool = False) -> Any:
    """A finite int or float (never a flag) within ``bounds``; ``whole``: an int (3.0 -> 3)."""
    what = "whole number" if whole else "number"
    if isinstance(value, bool) or not isinstance(value, int | float):
        _must(path, what, bounds, value)
    if isinstance(value, float) and not math.isfinite(value):  # .inf, .nan
        _must(path, what, bounds, value)
    if not whole and isinstance(value, int) and abs(value) > 1e308:  # no float can hold it
        _must(path, what, bounds, value)
    if whole and isinstance(value, float):
        if not value.is_integer():
            _must(path, what, bounds, value)
        value = int(value)
    if value not in bounds:
        _must(path, what, bounds, value)
    return value


def whole_number(value: Any, path: str, bounds: Range = Range()) -> int:
    """A whole number within ``bounds``."""
    return number(value, path, bounds, whole=True)


def share(value: Any, path: str, bounds: Range = Range(at_least=0, at_most=1)) -> float:
    """A share from 0 to 1 (``bounds`` may be narrower), e.g. 0.95."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value not in bounds:
        _must(path, "share", bounds, value, " (e.g. 0.95 for 95%)")
    return float(value)


def percent(value: Any, path: str, bounds: Range = Range(at_least=0, at_most=100)) -> int:
    """A whole percent from 0 to 100 (``bounds`` may be narrower), e.g. 15 for 15%."""
    if isinstance(value, bool) or not isinstance(value, int) or value not in bounds:
        _must(path, "percent", bounds, value, " (a whole number, e.g. 15 for 15%)")
    return value


def text(value: Any, path: str, example: str = "") -> str:
    """Non-empty text; a number or a flag here is refused, not turned into text."""
    if not isinstance(value, str) or not value.strip():
        hint = f", e.g. {example}" if example else ""
        quote = "; put it in quotes to mean text" if isinstance(value, int | float | date) else ""
        fail(f"{path} must be text{hint}, got {shown(value)}{quote}")
    return value


def choice(value: Any, path: str, choices: Iterable[str]) -> str:
    """One of ``choices``; a near miss gets a "did you mean"."""
    options = list(choices)
    if not isinstance(value, str) or value not in options:
        guess = suggestion(value, options) if isinstance(value, str) else None
        hint = f"; did you mean '{guess}'?" if guess else ""
        fail(f"{path} must be one of {', '.join(options)}, got {shown(value)}{hint}")
    return value


def flag(value: Any, path: str) -> bool:
    """true or false (YAML also reads yes/no/on/off as flags)."""
    if not isinstance(value, bool):
        fail(f"{path} must be true or false, got {shown(value)}")
    return value


def day(value: Any, path: str) -> date:
    """A calendar date: 2000-01-01 unquoted, or the same as quoted text."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    elif isinstance(value, date) and not isinstance(value, datetime):
        return value
    fail(f"{path} must be a date like 2000-01-01, got {shown(value)}")


def mapping(value: Any, path: str, what: str = "settings") -> dict[str, Any]:
    """A mapping with text keys; ``what`` says what it maps, for the error."""
    if not isinstance(value, Mapping):
        hint = "; write {} or leave the key out" if value is None else ""
        fail(f"{path} must be a mapping of {what}, got {shown(value)}{hint}")
    for key in value:
        if not isinstance(key, str):
            fail(f"{path} has the key {shown(key)}; keys must be text (quote it)")
    return dict(value)


def listing(value: Any, path: str, example: str, *, min_len: int = 0) -> list[Any]:
    """A list (``min_len`` items or more); ``example`` shows one, e.g. ``[email, postal]``."""
    if not isinstance(value, list | tuple) or len(value) < min_len:
        what = "a non-empty list" if min_len else "a list"
        fail(f"{path} must be {what}, e.g. {example}, got {shown(value)}")
    return list(value)


class Section:
    """One mapping of the config at a dotted ``path`` ("" for the top level).

    Keys outside ``known`` are refused at once; the getters read one key each, take its
    default when it is missing (``REQUIRED``: it must be given) and check its value.
    """

    def __init__(self, data: Any, path: str, known: Iterable[str], what: str = "") -> None:
        self.path = path
        self.known = tuple(known)
        described = what or ", ".join(self.known)
        self.data = mapping(data, path or "the top level", described)
        for key in self.data:
            if key not in self.known:
                unknown(key, path, self.known)

    def where(self, key: str) -> str:
        """The dotted path of ``key``."""
        return f"{self.path}.{key}" if self.path else key

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, default: Any = REQUIRED) -> Any:
        """The raw value of ``key``, ``default`` when it is missing."""
        return self.data.get(key, default)

    def _read(self, key: str, default: Any, check: Any, *args: Any, **kwargs: Any) -> Any:
        if key not in self.data and default is not REQUIRED:
            return default
        return check(self.get(key), self.where(key), *args, **kwargs)

    def whole(self, key: str, default: Any = REQUIRED, **bounds: float) -> int:
        """A whole number; bounds as in ``Range`` (``at_least=0``, ``at_most=32``, ...)."""
        return self._read(key, default, whole_number, Range(**bounds))

    def number(self, key: str, default: Any = REQUIRED, **bounds: float) -> float:
        """A number, returned as float; bounds as in ``Range``."""
        value = self._read(key, default, number, Range(**bounds))
        return float(value)

    def share(self, key: str, default: Any = REQUIRED, **bounds: float) -> float:
        """A share from 0 to 1; ``bounds`` narrow it (``above=0``)."""
        return self._read(key, default, share, Range(**({"at_least": 0, "at_most": 1} | bounds)))

    def percent(self, key: str, default: Any = REQUIRED, **bounds: float) -> int:
        """A whole percent from 0 to 100; ``bounds`` narrow it (``at_least=1``)."""
        return self._read(
            key, default, percent, Range(**({"at_least": 0, "at_most": 100} | bounds))
        )

    def text(self, key: str, default: Any = REQUIRED, example: str = "") -> str:
        """Non-empty text."""
        return self._read(key, default, text, example)

    def choice(self, key: str, choices: Iterable[str], default: Any = REQUIRED) -> str:
        """One of ``choices``."""
        return self._read(key, default, choice, tuple(choices))

    def flag(self, key: str, default: Any = REQUIRED) -> bool:
        """true or false."""
        return self._read(key, default, flag)

    def day(self, key: str, default: Any = REQUIRED) -> date:
        """A date like 2000-01-01."""
        return self._read(key, default, day)

    def mapping(self, key: str, what: str, default: Any = REQUIRED) -> dict[str, Any]:
        """A mapping of ``what`` (free keys; see ``section`` for fixed ones)."""
        return self._read(key, default, mapping, what)

    def listing(self, key: str, example: str, default: Any = REQUIRED, min_len: int = 0) -> list:
        """A list, e.g. ``example``."""
        return self._read(key, default, listing, example, min_len=min_len)

    def section(self, key: str, known: Iterable[str], what: str = "") -> Section:
        """The mapping under ``key`` as a ``Section`` (empty when the key is missing)."""
        return Section(self.data.get(key, {}), self.where(key), known, what)
