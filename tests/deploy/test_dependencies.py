"""What the shipped packages import, the runtime dependencies declare.

Production installs `[project].dependencies` only (`uv sync --no-dev`, `make dist`): a module
that arrives through another package today (anyio through Litestar, say) may leave with that
package's next release, and one imported from a dev-only package (pandas, pypdf) is missing
in production. Every import anywhere in the shipped packages, inside functions too, must be
the standard library's, ours, or come from a distribution `pyproject.toml` names as a runtime
dependency.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SHIPPED: list[str] = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return _normalized(match.group())


def _imports(source: str, filename: str) -> set[str]:
    """The top-level module of every absolute import in ``source``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _imported_by_shipped() -> dict[str, set[str]]:
    """Third-party top-level modules -> the shipped files importing them."""
    by_module: dict[str, set[str]] = {}
    for package in SHIPPED:
        for path in sorted((ROOT / package).rglob("*.py")):
            for module in _imports(path.read_text(encoding="utf-8"), str(path)):
                if module in sys.stdlib_module_names or module in SHIPPED:
                    continue
                by_module.setdefault(module, set()).add(str(path.relative_to(ROOT)))
    return by_module


RUNTIME = {_requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}


def test_every_import_of_the_shipped_packages_is_a_declared_runtime_dependency() -> None:
    providers = packages_distributions()
    undeclared = {
        module: sorted(files)
        for module, files in _imported_by_shipped().items()
        if not RUNTIME & {_normalized(d) for d in providers.get(module, [])}
    }
    assert undeclared == {}, (
        "imported by the shipped packages but not provided by any [project].dependencies "
        "entry (declare the distribution, pinned with ==, then `uv lock`): "
        + "; ".join(
            f"{module} (from {', '.join(providers.get(module, ['no installed distribution']))}) "
            f"in {', '.join(files[:3])}"
            for module, files in sorted(undeclared.items())
        )
    )


def test_the_scan_sees_imports_inside_functions_and_skips_relative_ones() -> None:
    source = (
        "import anyio.to_thread as t\n"
        "from .sibling import x\n"
        "from markupsafe import Markup\n"
        "def f():\n"
        "    import pandas\n"
        "    from httpx import AsyncClient\n"
    )
    assert _imports(source, "example.py") == {"anyio", "markupsafe", "pandas", "httpx"}


def test_the_scan_finds_what_was_once_undeclared() -> None:
    """The five modules issue 32 found arriving only through others are among those scanned."""
    imported = _imported_by_shipped()
    for module in ("anyio", "cryptography", "httpx", "markupsafe", "pyhanko_certvalidator"):
        assert module in imported, module
    assert "service" not in imported  # ours
    assert "zoneinfo" not in imported  # the standard library's


def test_no_dev_or_bench_tool_is_a_runtime_dependency() -> None:
    groups = PYPROJECT["dependency-groups"]
    tools = {_requirement_name(r) for name in ("dev", "bench") for r in groups[name]}
    assert {"pytest", "playwright", "pandas", "duckdb", "mypy", "ruff"} <= tools
    assert RUNTIME & tools == set()
