"""The house rules of the package, checked on the source: small modules, no import cycles, no
private names used across modules, and every named SQL file present and used."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from journeyflow.config import paths

PACKAGE = Path(paths.PACKAGE_DIR)
MAX_LINES = 400
# sql/ folders of files people add (schema, phases, audiences) or that are read by path
USER_SQL = {"schema", "phases", "campaigns", "facts"}


def modules() -> dict[str, Path]:
    """journeyflow.x.y -> its file."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = modules()


def imports(name: str, path: Path) -> list[tuple[str, str | None, int]]:
    """(module imported, name taken from it or None, line) for every import of the file,
    including those inside functions."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            found += [(base, alias.name, node.lineno) for alias in node.names]
    return [f for f in found if f[0] == "journeyflow" or f[0].startswith("journeyflow.")]


def edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for name, path in MODULES.items():
        for module, taken, _ in imports(name, path):
            target = f"{module}.{taken}" if f"{module}.{taken}" in MODULES else module
            if target in MODULES and target != name:
                graph[name].add(target)
    return graph


def test_no_module_is_longer_than_it_takes_to_read_in_one_sitting():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_no_import_cycles():
    graph = edges()
    cycles, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(trail[trail.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == []


def test_no_private_name_is_used_from_another_module():
    private = []
    for name, path in MODULES.items():
        for module, taken, line in imports(name, path):
            if taken and taken.startswith("_") and not taken.startswith("__"):
                private.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}.{taken}")
        aliases = {
            (alias.asname or alias.name).split(".")[-1]
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("journeyflow")
            for alias in node.names
            if f"{node.module}.{alias.name}" in MODULES
        }
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                private.append(
                    f"{path.relative_to(PACKAGE)}:{node.lineno} uses {node.value.id}.{node.attr}"
                )
    assert private == []


def named_sql() -> set[str]:
    """Every SQL file the package names: a string literal "capability/name" in the code."""
    pattern = re.compile(r"""["']([a-z_]+/[a-z_]+)["']""")
    names = set()
    for path in MODULES.values():
        names |= set(pattern.findall(path.read_text()))
    return names


def test_every_named_sql_file_exists_and_every_fixed_one_is_used():
    folders = {p.name for p in paths.SQL_DIR.iterdir() if p.is_dir()}
    expanded = {n for n in named_sql() if n.split("/")[0] in folders}
    missing = sorted(n for n in expanded if not (paths.SQL_DIR / f"{n}.sql").is_file())
    assert missing == []
    fixed = {
        f"{p.parent.name}/{p.stem}"
        for p in paths.SQL_DIR.glob("*/*.sql")
        if p.parent.name not in USER_SQL
    }
    assert sorted(fixed - expanded) == []


@pytest.mark.parametrize("sql", sorted(paths.SQL_DIR.glob("*/*.sql")), ids=lambda p: p.name)
def test_every_sql_file_opens_with_a_comment_saying_what_it_produces(sql):
    assert sql.read_text(encoding="utf-8").lstrip().startswith("--")
