"""The package's types hold under mypy --strict: typed usage passes, and each
mistake in typing/typed_usage_errors.py (a misspelt event type or field, a
wrong `now`, reading a field a union member lacks, a misspelt state key, a
shared machine's property called as the method it was) is an error on its
marked line, so the typing cannot regress silently. The shared machines'
properties type-check exactly as Machine's (typed_usage.py's reads())."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "typing"

pytest.importorskip("mypy")


def mypy(tmp_path: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--show-error-codes",
         "--cache-dir", str(tmp_path / "cache"), *map(str, files)],
        capture_output=True, text=True, cwd=tmp_path,
    )


def test_typed_usage_passes_and_each_mistake_is_its_expected_error(tmp_path: Path) -> None:
    good, bad = HERE / "typed_usage.py", HERE / "typed_usage_errors.py"
    done = mypy(tmp_path, good, bad)
    errors: dict[tuple[str, int], list[tuple[str, str]]] = {}
    for line in done.stdout.splitlines():
        found = re.match(r"(.+?):(\d+): error: (.*)  \[([\w-]+)\]$", line)
        if found:
            errors.setdefault((Path(found[1]).name, int(found[2])), []).append((found[4], found[3]))
    expected = {
        (bad.name, number): (mark[1], mark[2])
        for number, text in enumerate(bad.read_text().splitlines(), 1)
        if (mark := re.search(r"# E: ([\w-]+): (.+)$", text))
    }
    assert len(expected) == 9
    assert set(errors) == set(expected), done.stdout  # no error in typed_usage.py, one per marked line
    for where, (code, text) in expected.items():
        assert any(c == code and text in message for c, message in errors[where]), (where, errors[where])


def test_the_package_itself_passes_mypy_strict(tmp_path: Path) -> None:
    import bangui_state

    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), "-p", "bangui_state"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert done.returncode == 0 and bangui_state.__file__, done.stdout + done.stderr
