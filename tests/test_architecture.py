"""The package's parts and the direction of their imports (ARCHITECTURE.md).

The contracts live in pyproject.toml ([tool.importlinter]) and are checked
here with import-linter, as `lint-imports` checks them by hand. On top of
them: no import cycles between any two modules, lazy imports included.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import grimp
import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "backprop_lint"
PARTS = ("caffe", "linting", "backward", "report", "cli")


def test_import_contracts_are_kept() -> None:
    process = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"],
        cwd=REPO, capture_output=True, text=True,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    assert "0 broken" in process.stdout


def _cycles(edges: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in edges:
                    continue
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(edges[successor]))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    graph = grimp.build_graph("backprop_lint")
    edges = {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}
    assert _cycles(edges) == []


@pytest.mark.parametrize("part", PARTS)
def test_each_part_says_what_it_owns_and_may_import(part: str) -> None:
    docstring = ast.get_docstring(ast.parse((PACKAGE / part / "__init__.py").read_text(encoding="utf-8")))
    assert docstring, f"backprop_lint/{part}/__init__.py needs a docstring"
    assert "import" in docstring, f"backprop_lint/{part}'s docstring must say what it may import"


def test_no_flat_modules_beyond_the_package_entry_points() -> None:
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert flat == ["__init__.py", "__main__.py", "_version.py"]


def test_pyproject_lists_every_subpackage() -> None:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib  # type: ignore[no-redef]
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts) for init in PACKAGE.rglob("__init__.py")
    }
    assert on_disk | {"backprop_lint.rule_docs"} == listed


def _readme_references() -> List[str]:
    """Every dotted ``backprop_lint`` path the README names, and every name it imports from one."""
    import re

    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = set()
    for module, names in re.findall(r"from (backprop_lint[\w.]*) import ([\w, ]+)", text):
        found.update(f"{module}:{name.strip()}" for name in names.split(","))
    for dotted in re.findall(r"\bbackprop_lint(?:\.\w+)+", text):
        found.add(dotted)
    return sorted(found)


@pytest.mark.parametrize("reference", _readme_references())
def test_every_path_the_readme_documents_exists(reference: str) -> None:
    import importlib

    module_name, _, name = reference.partition(":")
    parts = module_name.split(".")
    # the longest importable prefix, then attributes (``backprop_lint.lint`` is a function)
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:] + ([name] if name else []):
            target = getattr(target, attribute)
        return
    raise AssertionError(f"README names {reference}, which does not import")


def _documented_source_paths() -> List[str]:
    import re

    documents = [REPO / "ARCHITECTURE.md", REPO / "README.md", *sorted((REPO / "rules").glob("*.md"))]
    found = set()
    for document in documents:
        for path in re.findall(r"`(backprop_lint/[\w/.]+)`", document.read_text(encoding="utf-8")):
            found.add(f"{document.name}:{path}")
    return sorted(found)


@pytest.mark.parametrize("reference", _documented_source_paths())
def test_every_source_path_the_docs_name_exists(reference: str) -> None:
    document, _, path = reference.partition(":")
    if path.startswith("backprop_lint/rule_docs"):  # the wheel's name for rules/
        return
    assert (REPO / path).exists(), f"{document} names {path}, which does not exist"
