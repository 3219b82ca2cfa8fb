"""The project's one version number and every file that repeats it.

The version is the workspace's (`[workspace.package] version` in Cargo.toml):
every crate inherits it, so the C library's `bangui_version()` and the C
SDK's pkg-config file (made from it by `make dist` and `make install-c`) say
it by construction. The Python package, the npm package and the changelog
repeat it in their own files; `mismatches()` lists those that differ (make
dist refuses to run then, and tests/dist checks the artifacts themselves).
"""
from __future__ import annotations

import ast
import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def workspace_version(root: Path = ROOT) -> str:
    with open(root / "Cargo.toml", "rb") as manifest:
        version: str = tomllib.load(manifest)["workspace"]["package"]["version"]
    return version


def changelog_version(root: Path = ROOT) -> str | None:
    """The version of CHANGELOG.md's top entry (`## 0.1.0 (unreleased)`, `## [0.2.0] - 2026-05-01`)."""
    for line in (root / "CHANGELOG.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            found = re.match(r"## \[?v?([0-9][^\]\s]*)", line)
            return found.group(1) if found else line
    return None


def python_dunder_version(root: Path = ROOT) -> str | None:
    source = (root / "bindings-c/python/src/bangui_state/__init__.py").read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
            return ast.literal_eval(node.value)  # type: ignore[no-any-return]
    return None


def declared_versions(root: Path = ROOT) -> dict[str, str | None]:
    """Where the version is written down again, and what it says there."""
    with open(root / "bindings-c/python/pyproject.toml", "rb") as pyproject:
        python = tomllib.load(pyproject)["project"].get("version")
    npm = json.loads((root / "bindings-wasm/npm/package.json").read_text(encoding="utf-8")).get("version")
    return {
        "bindings-c/python/pyproject.toml (project.version)": python,
        "bindings-c/python/src/bangui_state/__init__.py (__version__)": python_dunder_version(root),
        "bindings-wasm/npm/package.json (version)": npm,
        "CHANGELOG.md (its top entry)": changelog_version(root),
    }


def mismatches(root: Path = ROOT) -> list[str]:
    version = workspace_version(root)
    return [f"{where} says {found!r}, Cargo.toml says {version!r}"
            for where, found in declared_versions(root).items() if found != version]
