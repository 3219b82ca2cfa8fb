"""Every doc example runs and prints what the docs say: the package
docstring's doctest, and the ```python blocks of the package README and of
the repository README. A ```text block right after a ```python block is that
block's exact output; the blocks of one file run in order, in one namespace."""
from __future__ import annotations

import contextlib
import doctest
import io
import re
from pathlib import Path

import pytest

import bangui_state
from conftest import REPO

BLOCK = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)


def without_section(text: str, title: str) -> str:
    """`text` with its `## title` section blanked (lines kept, so line numbers stay true)."""
    head, sep, rest = text.partition(f"\n## {title}\n")
    if not sep:
        return text
    section, sep2, tail = rest.partition("\n## ")
    return head + "\n" * (section.count("\n") + 2) + sep2 + tail


def examples(path: Path, skip_section: str | None = None) -> list[tuple[int, str, str | None]]:
    """(line, code, expected output or None) per ```python block."""
    text = path.read_text(encoding="utf-8")
    if skip_section:
        text = without_section(text, skip_section)
    blocks = [(m.start(), m[1], m[2], m.end()) for m in BLOCK.finditer(text)]
    out = []
    for i, (start, lang, body, end) in enumerate(blocks):
        if lang != "python":
            continue
        after = blocks[i + 1] if i + 1 < len(blocks) else None
        expected = after[2] if after and after[1] == "text" and text[end:after[0]].strip() == "" else None
        out.append((text.count("\n", 0, start) + 2, body, expected))
    return out


def run_examples(path: Path, skip_section: str | None = None) -> list[str]:
    """Each block's output, checked against its ```text block if it has one."""
    namespace: dict[str, object] = {"__name__": f"doc:{path.name}"}
    outputs = []
    for line, code, expected in examples(path, skip_section):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, f"{path}:{line}", "exec"), namespace)  # noqa: S102 - the docs' own code
        if expected is not None:
            assert printed.getvalue() == expected, f"{path.name}, block at line {line}"
        lines = [text for text in code.strip().splitlines() if text.strip() and not text.startswith("#")]
        assert printed.getvalue(), f"{path.name}, block at line {line} prints nothing"
        assert "print(" in lines[-1] or lines[-1].startswith((" ", "except", "    ")), \
            f"{path.name}, block at line {line}: the last line shows nothing"
        outputs.append(printed.getvalue())
    return outputs


def test_the_package_docstring_quick_start_runs() -> None:
    result = doctest.testmod(bangui_state, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted >= 8
    assert result.failed == 0


def test_the_package_readme_examples_run_and_print_what_it_shows() -> None:
    assert len(run_examples(REPO / "bindings-c" / "python" / "README.md")) >= 4


def test_the_repository_readme_python_examples_run_and_print_what_it_shows() -> None:
    """Its snippet logs through structlog's default (timestamped) output, so
    only its last line, which the README quotes, is compared. (The "Many
    workers" section's FastAPI apps are run by test_shared_readme.py.)"""
    outputs = run_examples(REPO / "README.md", skip_section="Many workers")
    assert len(outputs) >= 1
    last = outputs[-1].splitlines()[-1]
    assert f"then `{last}`" in (REPO / "README.md").read_text(encoding="utf-8"), last


@pytest.mark.parametrize("readme", ["bindings-c/python/README.md"])
def test_the_shipped_readme_stands_alone(readme: str) -> None:
    """It is on PyPI: no links into the repository, no make targets."""
    text = (REPO / readme).read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert all(link.startswith(("https://", "http://")) for link in links), links
    assert "make " not in text and "../" not in text
