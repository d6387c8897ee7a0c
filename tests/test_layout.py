"""The architecture holds in the code: the top of `src/shugu/` is the kernel plus packages,
domains do not import one another in a cycle, the ledger knows no HTTP client, the transcryptor
server does not reach into identity, and only `shugu.keys.purposes` spells a sealing purpose."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).parent.parent / "src" / "shugu"
KERNEL = {"__init__", "__main__", "settings", "errors", "clock", "ids", "i18n", "log", "db"}
DATA_FOLDERS = {"locale", "migrations", "__pycache__"}
EDGES = {"api", "cli", "web"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path) -> set[str]:
    """Every module `path` imports (at any depth: lazy imports count too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[0] == "shugu") else None


def _package_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        here = _package(name)
        if here is None or here in KERNEL:
            continue
        for imported in _imports(path):
            there = _package(imported) if imported.startswith("shugu.") else None
            if there and there != here and there not in KERNEL and imported in modules:
                graph[here].add(there)
    return graph


def test_the_top_level_is_the_kernel_plus_packages() -> None:
    loose = {p.stem for p in SRC.glob("*.py")} - KERNEL
    packages = {p.name for p in SRC.iterdir() if p.is_dir()} - DATA_FOLDERS
    assert not loose, f"loose modules at the top of src/shugu: {sorted(loose)}"
    assert all((SRC / name / "__init__.py").exists() for name in packages)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*trail, node, nxt]
            if nxt not in state and (found := visit(nxt, [*trail, node])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [])):
            return found
    return None


def test_packages_do_not_import_one_another_in_a_cycle() -> None:
    graph = _package_graph()
    assert "ledger" in graph and "identity" in graph  # the graph is really built
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("ledger", ("httpx", "shugu.client", "fastapi", "shugu.identity", "shugu.api")),
        ("keys", ("httpx", "fastapi", "shugu.identity", "shugu.ledger", "shugu.pep")),
        ("signing", ("httpx", "fastapi", "shugu.identity", "shugu.ledger", "shugu.pep")),
        *((d, ("fastapi", "typer", "starlette")) for d in ("identity", "ledger", "pep", "privacy")),
    ],
    ids=lambda value: value if isinstance(value, str) else "-",
)
def test_a_package_does_not_import(package: str, forbidden: tuple[str, ...]) -> None:
    offending = {
        f"{name}: {imported}"
        for name, path in _modules().items()
        if name == f"shugu.{package}" or name.startswith(f"shugu.{package}.")
        for imported in _imports(path)
        if any(imported == f or imported.startswith(f + ".") for f in forbidden)
    }
    assert not offending, sorted(offending)


def test_the_transcryptor_server_does_not_reach_into_identity() -> None:
    imported = _imports(SRC / "pep" / "server.py")
    assert not {i for i in imported if i.startswith("shugu.identity")}, imported


PURPOSE_LITERAL = re.compile(
    r"^(hub-key:|identity:|pseudonym:|pep-session:|pep-transcryptor:|pep-client$|pep-system$)"
)


def _strings(path: Path) -> list[tuple[int, str]]:
    """The string literals of a module that are not docstrings (f-string parts included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and (body := node.body)
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in docstrings
    ]


def test_only_the_registry_spells_a_sealing_purpose() -> None:
    spelled = [
        f"{path.relative_to(SRC)}:{line}: {text!r}"
        for path in SRC.rglob("*.py")
        if path != SRC / "keys" / "purposes.py"
        for line, text in _strings(path)
        if PURPOSE_LITERAL.search(text)
    ]
    assert not spelled, spelled
    assert PURPOSE_LITERAL.search("identity:") and not PURPOSE_LITERAL.search("my identity:")
