"""The package's layout: what the wheel ships and what stays with the tests."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import vidlens

PACKAGE_DIR = Path(vidlens.__file__).resolve().parent
REPO_ROOT = Path(__file__).resolve().parents[1]


def test_the_test_data_generators_are_not_part_of_the_package() -> None:
    assert importlib.util.find_spec("vidlens.testing") is None
    assert importlib.util.find_spec("tests.support.synth") is not None


@pytest.mark.parametrize(("old", "new"), [("vidlens.loudness", "vidlens.media.loudness"),
                                          ("vidlens.search", "vidlens.library.conse"),
                                          ("vidlens.cli_console", "vidlens.cli.console")])
def test_moved_modules_have_one_home(old: str, new: str) -> None:
    assert importlib.util.find_spec(old) is None
    assert importlib.util.find_spec(new) is not None


def test_no_package_module_imports_the_tests() -> None:
    """``tests.support`` imports in a checkout but not from the wheel: the product must not need it."""
    offenders = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            offenders += [f"{path.relative_to(PACKAGE_DIR)}: {name}" for name in names
                          if name == "tests" or name.startswith("tests.")]
    assert offenders == []


def test_the_console_script_and_python_m_reach_the_cli_main() -> None:
    tomllib = pytest.importorskip("tomllib")
    target = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]["vidlens"]
    module, _, name = target.partition(":")
    from vidlens.cli import main

    assert getattr(importlib.import_module(module), name) is main
    done = subprocess.run([sys.executable, "-m", "vidlens.cli", "version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("vidlens "), done.stderr
