"""Fixed SQL lives in ``sql/<capability>/<what_it_produces>.sql``; this reads it by name.

``statement("decisions/decide")`` is the file as a SQLAlchemy ``text()`` with ``:name``
parameters; ``pyformat(...)`` is the same statement for a raw DB-API cursor (``%(name)s``).
"""

from __future__ import annotations

import re
from functools import cache

from sqlalchemy import TextClause, text

from journeyflow.config import paths

# a bound parameter as SQLAlchemy's text() sees it: ':name', but not '::cast'
_PARAM = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


@cache
def read(name: str) -> str:
    """The text of ``sql/<name>.sql`` without its trailing semicolon."""
    path = paths.SQL_DIR / f"{name}.sql"
    try:
        return path.read_text(encoding="utf-8").strip().rstrip(";")
    except FileNotFoundError:
        why = paths.missing_project() or "restore it from the release"
        raise FileNotFoundError(f"{path}: a SQL file of journeyflow is missing; {why}") from None


@cache
def statement(name: str) -> TextClause:
    """``sql/<name>.sql`` as a statement with ``:name`` bound parameters."""
    return text(read(name))


@cache
def pyformat(name: str) -> str:
    """``sql/<name>.sql`` for a psycopg cursor: ``:name`` becomes ``%(name)s``."""
    return _PARAM.sub(r"%(\1)s", read(name).replace("%", "%%"))
