"""The package's floor plan holds: each layer imports only the layers below it.

Layers, bottom up (docs/architecture.md draws them): ``model``; the maths (``money``, ``slo``);
``providers``; ``config``; ``evaluation``; the outputs (``metrics``, ``views``); ``service``;
``cli``. The maths must load without any provider, HTTP client or server, so that it can be
used and tested alone.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "exporter" / "budget_exporter"
ROOT_MODULE = ""  # budget_exporter/__init__.py: the version and process settings only

# What each layer may import besides itself. The root module may be imported by anyone.
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "money": {"model"},
    "slo": {"model"},
    "providers": {"model"},
    "config": {"model", "money", "providers"},
    "evaluation": {"model", "money", "slo", "config"},
    # providers: the catalogue lists the families providers declare (the exposition does not
    # import them).
    "metrics": {"model", "money", "slo", "providers", "evaluation"},
    "views": {"model", "money", "slo", "evaluation"},
    "service": {
        "model",
        "money",
        "slo",
        "providers",
        "config",
        "evaluation",
        "metrics",
        "views",
    },
    "cli": {
        "model",
        "money",
        "slo",
        "providers",
        "config",
        "evaluation",
        "metrics",
        "views",
        "service",
    },
    # budget_exporter.app: the WSGI entry point for users' own gunicorn.
    "app": {"service"},
}

# Third-party modules that are I/O: none may load with the maths.
IO_MODULES = ("requests", "urllib3", "boto3", "botocore", "google", "azure", "gunicorn")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _internal_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of the package in a file, function-level ones included."""
    module = _module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    if not module:
        package = []
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and node.module.split(".")[0] == "budget_exporter":
                target = node.module.removeprefix("budget_exporter").lstrip(".")
            else:
                continue
            for alias in node.names:
                # ``from . import name`` may name a submodule: count it as that module.
                candidate = f"{target}.{alias.name}" if target else alias.name
                is_module = (PACKAGE / candidate.replace(".", "/")).with_suffix(".py").exists() or (
                    PACKAGE / candidate.replace(".", "/") / "__init__.py"
                ).exists()
                found.append((node.lineno, candidate if is_module else target))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "budget_exporter":
                    found.append(
                        (node.lineno, alias.name.removeprefix("budget_exporter").lstrip("."))
                    )
    return found


def _layer(module: str) -> str:
    return module.split(".")[0] if module else ROOT_MODULE


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_package_folder_is_a_known_layer():
    layers = {_layer(_module_name(path)) for path in MODULES} - {ROOT_MODULE}
    assert layers == set(ALLOWED)


@pytest.mark.parametrize("path", MODULES, ids=lambda path: _module_name(path) or "__init__")
def test_a_module_imports_only_its_own_layer_and_the_layers_below(path: Path):
    layer = _layer(_module_name(path))
    allowed = ALLOWED.get(layer, set()) | {layer, ROOT_MODULE}
    wrong = [
        f"line {line}: imports {target or 'budget_exporter'}"
        for line, target in _internal_imports(path)
        if _layer(target) not in allowed
    ]
    assert not wrong, f"{path.relative_to(ROOT)} ({layer}) may import {sorted(allowed)}: {wrong}"


def test_the_root_module_imports_nothing_of_the_package():
    assert _internal_imports(PACKAGE / "__init__.py") == []


def test_no_two_modules_import_each_other_even_through_others():
    graph = {
        _module_name(path): {target for _, target in _internal_imports(path)} for path in MODULES
    }

    def reaches(start: str, goal: str) -> bool:
        seen, stack = set(), list(graph.get(start, ()))
        while stack:
            current = stack.pop()
            if current == goal:
                return True
            if current not in seen:
                seen.add(current)
                stack.extend(graph.get(current, ()))
        return False

    cycles = sorted(
        f"{module} <-> {target}"
        for module, targets in graph.items()
        for target in targets
        if target != module and module < target and reaches(target, module)
    )
    assert not cycles


def test_the_maths_loads_no_provider_config_or_io_module():
    maths = [
        _module_name(path)
        for path in MODULES
        if _layer(_module_name(path)) in {"model", "money", "slo"}
    ]
    code = (
        "import sys\n"
        + "".join(f"import budget_exporter.{module}\n" for module in maths)
        + "print('\\n'.join(sorted(sys.modules)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "budget_exporter.money.budgets" in loaded  # the probe did import the maths
    outside = [
        name
        for name in loaded
        if name.startswith("budget_exporter.")
        and _layer(name.removeprefix("budget_exporter.")) not in {"model", "money", "slo"}
    ]
    assert not outside, f"the maths loaded {outside}"
    io = [name for name in loaded if name.split(".")[0] in IO_MODULES]
    assert not io, f"the maths loaded I/O modules {io}"


def test_only_the_command_line_defers_imports_of_the_package():
    # A function-level import hides a cycle; only cli/ may defer one, to start fast (serve loads
    # gunicorn and the service only when it runs).
    deferred = []
    for path in MODULES:
        if _layer(_module_name(path)) == "cli":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {id(node) for node in tree.body}
        # Imports for type checking never run: they defer nothing.
        for node in tree.body:
            if isinstance(node, ast.If) and ast.unparse(node.test) in (
                "TYPE_CHECKING",
                "typing.TYPE_CHECKING",
            ):
                top.update(id(child) for child in node.body)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and id(node) not in top and node.level:
                deferred.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not deferred
