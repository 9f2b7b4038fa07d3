"""The import graph of the package, read with `ast` from every module (top-level imports, those inside
functions and those under TYPE_CHECKING alike): no cycle, no module using another module's `_private`
name (imported, or as an attribute of an imported module), and nothing but `hub/` and the top layer
(cli.py, the package's `__init__`) importing `hub/`: the core runs without the Hub."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from conftest import ROOT

PACKAGE = "dataset_builder"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, str | None]]:
    """(module, name) for every import of the package in one file; name None for `import module`."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names if alias.name.startswith(PACKAGE)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
            assert node.level == 0, f"{path}: relative import"
            found += [(node.module, alias.name) for alias in node.names]
    return found


def private_attributes(source: str) -> list[str]:
    """`module._name` uses in one file, where `module` is a module of the package imported under a name."""
    tree = ast.parse(source)
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
            for alias in node.names:
                if f"{node.module}.{alias.name}" in MODULES:
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            aliases.update({a.asname: a.name for a in node.names if a.asname and a.name in MODULES})
    return [
        f"{aliases[node.value.id]}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in aliases
        and node.attr.startswith("_")
    ]


MODULES = {module_name(p): p for p in sorted((ROOT / PACKAGE).rglob("*.py"))}
TOP = {PACKAGE, f"{PACKAGE}.cli", f"{PACKAGE}.__main__"}


def graph() -> dict[str, set[str]]:
    """Module -> the modules of the package it imports (`from pkg import mod` imports `pkg.mod`)."""
    edges: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        targets = set()
        for module, imported in imports(path):
            submodule = f"{module}.{imported}"
            targets.add(submodule if submodule in MODULES else module)
        edges[name] = targets - {name, PACKAGE} if name != PACKAGE else targets - {name}
    return edges


def test_the_graph_is_read() -> None:
    edges = graph()
    assert "dataset_builder.records" in edges["dataset_builder.passes"]
    assert "dataset_builder.runner" in edges["dataset_builder.pipeline"]
    assert "dataset_builder.report" in edges["dataset_builder.errors"]  # under TYPE_CHECKING


def test_no_import_cycle() -> None:
    try:
        order = list(TopologicalSorter(graph()).static_order())
    except CycleError as e:
        raise AssertionError(f"import cycle: {' -> '.join(e.args[1])}") from e
    assert set(order) >= set(MODULES) - {PACKAGE}


def test_no_module_uses_another_modules_private_names() -> None:
    private = [
        f"{name} imports {imported} from {module}"
        for name, path in MODULES.items()
        for module, imported in imports(path)
        if imported is not None and imported.startswith("_") and module != name
    ]
    private += [
        f"{name} uses {used}"
        for name, path in MODULES.items()
        for used in private_attributes(path.read_text(encoding="utf-8"))
    ]
    assert private == []
    seen = private_attributes(
        "from dataset_builder import read as r\nimport dataset_builder.parse as p\nr._x(p._y)"
    )
    assert sorted(seen) == ["dataset_builder.parse._y", "dataset_builder.read._x"]


def test_only_hub_imports_hub() -> None:
    outside = [
        f"{name} imports {target}"
        for name, targets in graph().items()
        for target in targets
        if target.startswith(f"{PACKAGE}.hub") and not name.startswith(f"{PACKAGE}.hub") and name not in TOP
    ]
    assert outside == []


def test_records_imports_nothing_of_the_package() -> None:
    assert graph()["dataset_builder.records"] == set()


def test_every_library_the_package_imports_is_a_declared_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {
        re.split(r"[\s<>=!\[;]", d, maxsplit=1)[0].lower().replace("_", "-") for d in project["dependencies"]
    }
    distributions = importlib.metadata.packages_distributions()
    used = set()
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                used |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                used.add(node.module.split(".")[0])
    third_party = used - set(sys.stdlib_module_names) - {PACKAGE, "__future__"}
    assert {"numpy", "pyarrow", "huggingface_hub"} <= third_party

    def canonical(name: str) -> str:
        return name.lower().replace("_", "-")

    undeclared = {
        name: distributions.get(name, [name])
        for name in third_party
        if not {canonical(d) for d in distributions.get(name, [name])} & declared
    }
    assert undeclared == {}


def test_modules_import_only_layers_above_them_as_docs_architecture_lists() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    listed = re.search(r"<!-- layers -->\n(.*?)<!-- end of layers -->", text, re.S)
    assert listed is not None
    order = [
        name if name == PACKAGE else f"{PACKAGE}.{name}" for name in re.findall(r"`([\w.]+)`", listed[1])
    ]
    assert sorted(order) == sorted(set(MODULES) - {f"{PACKAGE}.hub"}), "list every module once"
    rank = {name: i for i, name in enumerate(order)}
    upward = [
        f"{name} imports {target}"
        for name, targets in graph().items()
        if name in rank
        for target in targets
        if target in rank and rank[target] > rank[name]
    ]
    assert upward == []
