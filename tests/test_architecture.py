"""The plan of ``engine/`` stays true: no import cycle, and no import against the flow
of data (sources → papers → vectors → artifact → answers).

Every import counts, also those inside functions (they still tie the modules together).
The layer table is the one ``engine/README.md`` draws; change both together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parent.parent / "engine"

# What each part of the engine may import (besides itself). "core" is the top-level
# modules (errors, papers, text, fsutil, progress); "api" is engine/__init__.py.
ALLOWED = {
    "core": set(),
    "ingest": {"core"},
    "embedding": {"core"},
    "artifact": {"core"},
    "topics": {"core", "artifact"},
    "pipeline": {"core", "ingest", "embedding", "artifact", "topics"},
    "query": {"core", "embedding", "artifact"},
    "library": {"core"},
    "daily": {"core", "query", "library"},
    "serve": {"core", "embedding", "artifact", "query", "library", "daily"},
    "api": {"artifact", "query"},
    "cli": {"core", "ingest", "embedding", "artifact", "topics", "pipeline", "query", "library", "daily", "serve", "api"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ENGINE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def part_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "api"
    if len(parts) == 2 and (ENGINE / f"{parts[1]}.py").is_file():
        return "core"
    return parts[1]


def engine_modules() -> dict[str, Path]:
    return {module_name(p): p for p in ENGINE.rglob("*.py")}


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The engine modules ``path`` imports (a name imported from a package counts as the
    submodule when there is one, else as the package)."""
    found = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "engine"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != "engine":
                continue
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return found & set(modules)


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = engine_modules()
    return {name: imports_of(path, modules) - {name} for name, path in modules.items()}


def test_every_part_is_in_the_plan(graph):
    assert {part_of(m) for m in graph} <= set(ALLOWED), "a new subpackage needs a row in ALLOWED (and the README)"


def against_the_flow(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{source} imports {target}"
        for source, targets in graph.items()
        for target in targets
        if part_of(target) != part_of(source) and part_of(target) not in ALLOWED[part_of(source)]
    )


def cycles_in(graph: dict[str, set[str]]) -> list[str]:
    """Each cycle a depth-first walk meets, as 'a -> b -> a'."""
    cycles, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                cycles.append(" -> ".join([*stack[stack.index(target) :], target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_no_import_runs_against_the_flow(graph):
    wrong = against_the_flow(graph)
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_no_import_cycle(graph):
    cycles = cycles_in(graph)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_checks_can_fail(graph):
    """The walk sees imports inside functions, and both checks catch what they are for
    (guards against a plan test that could never fail)."""
    assert "engine.pipeline.update" in graph["engine.pipeline.build"]
    assert "engine.query.facade" in graph["engine"]  # imported inside engine.open()
    assert cycles_in({**graph, "engine.errors": {"engine.cli.main"}})
    assert against_the_flow({**graph, "engine.query.facade": {"engine.pipeline.build"}}) == [
        "engine.query.facade imports engine.pipeline.build"
    ]
    assert against_the_flow({**graph, "engine.artifact.store": {"engine.topics.labels"}})


MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
LONG_REASON = "Long because"  # a function over the limit says why in its docstring


def test_modules_and_functions_stay_small():
    """Small modules with one job each; a long function must say why it is long."""
    too_big = []
    for path in sorted(ENGINE.rglob("*.py")):
        source = path.read_text()
        if source.count("\n") > MAX_MODULE_LINES:
            too_big.append(f"{path.relative_to(ENGINE.parent)}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES and LONG_REASON not in (ast.get_docstring(node) or ""):
                    too_big.append(f"{path.relative_to(ENGINE.parent)}:{node.lineno} {node.name}(): {length} lines")
    assert not too_big, "over the size limits:\n" + "\n".join(too_big)
