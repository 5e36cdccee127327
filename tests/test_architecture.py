"""The house rules of the import graph, read from the source (no module is imported).

``collectors/`` is the floor: it imports nothing from ``sensor/``. Among the modules of
both packages there is no import cycle, counting every import a module makes (at the
top, inside functions, and under ``TYPE_CHECKING``): a cycle that only the type checker
sees is still two modules that cannot be understood one without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("sensor", "collectors")


def modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports (a ``from x import y`` names x.y when y is a module)."""
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
            # Importing a.b.c runs a/__init__ and a/b/__init__ first: those are imports too, except
            # of the packages this module is inside (they are already being imported).
            parent = t.rpartition(".")[0]
            while parent:
                if parent in known and not name.startswith(parent + ".") and parent != name:
                    found.add(parent)
                parent = parent.rpartition(".")[0]
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(g):
        if root in index:
            continue
        work = [(root, iter(sorted(g[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(g.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp: list[str] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_collectors_import_nothing_from_sensor() -> None:
    g = graph()
    bad = sorted(f"{m} -> {t}" for m, ts in g.items() if m.startswith("collectors") for t in ts
                 if t.split(".")[0] == "sensor")
    assert not bad, "collectors/ is the floor and must not import sensor/:\n" + "\n".join(bad)


def test_no_import_cycle() -> None:
    found = cycles(graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


@pytest.mark.parametrize("source, expected", [
    ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
])
def test_the_cycle_finder_finds_cycles(source: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(source) == expected


def test_the_import_reader_sees_every_kind_of_import(tmp_path: Path) -> None:
    mod = tmp_path / "m.py"
    mod.write_text("import sensor.config\nfrom collectors import facts\n"
                   "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sensor.errors import X\n"
                   "def f():\n    from .tables import T\n")
    known = {"sensor.config": mod, "collectors.facts": mod, "sensor.errors": mod, "collectors.tables": mod,
             "collectors": mod, "collectors.m": mod, "sensor": mod}
    # sensor/__init__ runs before sensor.config: an import of the package too; collectors/__init__
    # is already running when collectors.m is imported.
    assert imports_of("collectors.m", mod, known) == {"sensor.config", "collectors.facts", "sensor.errors",
                                                      "collectors.tables", "sensor"}


def test_a_package_init_that_imports_its_modules_is_in_the_graph(tmp_path: Path) -> None:
    """collectors.tables -> collectors.cli.names runs collectors/cli/__init__, which imported
    collectors.cli.parse, which imports collectors.tables: a cycle through a package's __init__."""
    t, init, parse = tmp_path / "tables.py", tmp_path / "__init__.py", tmp_path / "parse.py"
    names = tmp_path / "names.py"
    names.write_text("import re\n")
    t.write_text("from collectors.cli.names import Ports\n")
    init.write_text("from collectors.cli.parse import parse\n")
    parse.write_text("from collectors.tables import Tables\n")
    known = {"collectors.tables": t, "collectors.cli": init, "collectors.cli.parse": parse,
             "collectors.cli.names": names, "collectors": init}
    g = {name: imports_of(name, path, known) for name, path in known.items() if name != "collectors"}
    assert ["collectors.cli", "collectors.cli.parse", "collectors.tables"] in cycles(g)
