"""The structure a newcomer relies on, read from the source with the standard library's
``ast`` and ``re`` (nothing is imported or run):

- no import cycle between Kanta's packages (``kanta.events``, ``kanta.images``, …; a
  top-level module such as ``kanta.storage`` counts as its own package), imports inside
  functions included, since a lazy import is still a dependency;
- nothing in ``kanta`` imports ``function_app`` but the local host, which runs the app;
- each table is written (INSERT, UPDATE, DELETE, COPY FROM) by one module, its owner.
"""

from __future__ import annotations

import ast
import graphlib
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Modules that may import ``function_app``: the local host runs the app it indexes.
RUNS_THE_APP = {"kanta.local.__main__", "kanta.local.host"}

#: Table → the one module that writes it.
OWNERS = {
    "events": "kanta/store/events.py",
    "images": "kanta/store/images.py",
    "faces": "kanta/store/images.py",
    "deleted_blobs": "kanta/store/images.py",
    "erased_descriptors": "kanta/store/images.py",
    "clusters": "kanta/store/people.py",
    "face_corrections": "kanta/store/people.py",
    "cluster_runs": "kanta/store/people.py",
    "guest_links": "kanta/store/guest_links.py",
    "rate_counters": "kanta/caps.py",
    "schema_migrations": "kanta/migrate.py",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(module: str) -> str:
    """``kanta.images.ingest`` → ``kanta.images``; ``kanta.storage`` → ``kanta.storage``."""
    return ".".join(module.split(".")[:2])


def import_graph() -> dict[str, dict[str, set[str]]]:
    """``importer module → {imported module: …}`` for every import of Kanta's own modules or
    of ``function_app`` found anywhere in ``kanta/`` (absolute and relative imports)."""
    modules = {_module_name(p): p for p in (ROOT / "kanta").rglob("*.py")}
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's own package, up level - 1
                    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                    package = package[: len(package) - node.level + 1]
                    base = ".".join([*package, base] if base else package)
                # "from kanta import storage" imports the module kanta.storage.
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            for target in targets:
                if target == "function_app" or target in modules:
                    graph[module][target].add(f"{path.relative_to(ROOT)}:{node.lineno}")
    return graph


def package_cycle(graph: dict[str, dict[str, set[str]]]) -> list[str]:
    """Packages that import each other in a cycle (the first that ``graphlib`` finds), or
    ``[]`` for none."""
    edges: dict[str, set[str]] = defaultdict(set)
    for importer, imported in graph.items():
        for target in imported:
            if target != "function_app" and _package(target) != _package(importer):
                edges[_package(importer)].add(_package(target))
    try:
        graphlib.TopologicalSorter(edges).prepare()
    except graphlib.CycleError as exc:
        return sorted(set(exc.args[1]))
    return []


def _where(graph: dict[str, dict[str, set[str]]], packages: list[str]) -> list[str]:
    """The imports that make up a cycle among ``packages``, as ``file:line importer → imported``."""
    return sorted(f"{site} {importer} → {target}" for importer, imported in graph.items()
                  for target, sites in imported.items() for site in sites
                  if _package(importer) in packages and _package(target) in packages
                  and _package(importer) != _package(target))


def test_no_import_cycle_between_kanta_packages():
    graph = import_graph()
    cycle = package_cycle(graph)
    assert not cycle, f"cycle {cycle}:\n  " + "\n  ".join(_where(graph, cycle))


def test_the_cycle_check_finds_a_cycle():
    graph = {"kanta.a.x": {"kanta.b.y": {"x.py:1"}}, "kanta.b.y": {"kanta.c.z": {"y.py:1"}},
             "kanta.c.z": {"kanta.a.w": {"z.py:1"}}, "kanta.d.v": {"kanta.a.x": {"v.py:1"}}}
    assert package_cycle(graph) == ["kanta.a", "kanta.b", "kanta.c"]
    del graph["kanta.c.z"]
    assert package_cycle(graph) == []


def test_only_the_local_host_imports_function_app():
    importers = {module for module, imported in import_graph().items() if "function_app" in imported}
    assert importers <= RUNS_THE_APP, sorted(importers - RUNS_THE_APP)


#: SQL that writes a table, as Kanta writes SQL (keywords in capitals).
_WRITE = re.compile(r"\b(?:INSERT INTO|UPDATE|DELETE FROM|COPY)\s+([a-z_]+)\b")


def schema_tables() -> set[str]:
    """Every table the migrations create."""
    return set(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?([a-z_]+)",
                          "".join(p.read_text() for p in (ROOT / "sql").glob("*.sql"))))


def table_writers() -> dict[str, set[str]]:
    """Table of the schema → the files under ``kanta/`` whose SQL writes it."""
    tables = schema_tables() | {"schema_migrations"}
    writers: dict[str, set[str]] = defaultdict(set)
    for path in (ROOT / "kanta").rglob("*.py"):
        for table in _WRITE.findall(path.read_text()):
            if table in tables:
                writers[table].add(str(path.relative_to(ROOT)))
    return writers


def test_each_table_is_written_by_its_owner_only():
    assert schema_tables() <= set(OWNERS), sorted(schema_tables() - set(OWNERS))
    wrong = {table: sorted(files) for table, files in table_writers().items() if files != {OWNERS[table]}}
    assert not wrong, f"tables written outside their owner (OWNERS): {wrong}"
