#!/usr/bin/env python3
"""Every relative link in the repository's Markdown resolves inside the repository.

Checks `[text](target)` links and `<img src>`-free Markdown only: a target that
is not a URL (http, https, mailto) or an in-page anchor must name a file or
directory that git tracks, and must not climb out of the repository. Exit 1
with one line per broken link.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~)")


def tracked(root: Path) -> set[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, check=True, capture_output=True).stdout
    files = {p for p in out.decode().split("\0") if p}
    dirs = {str(Path(f).parents[i]) for f in files for i in range(len(Path(f).parents) - 1)}
    return files | dirs


def links(text: str) -> list[tuple[int, str]]:
    found, in_code = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line.strip()):
            in_code = not in_code
            continue
        if not in_code:
            found.extend((number, m.group(1)) for m in LINK.finditer(line))
    return found


def main() -> int:
    root = Path(subprocess.run(["git", "rev-parse", "--show-toplevel"], check=True, capture_output=True,
                               text=True).stdout.strip())
    known = tracked(root)
    broken = []
    documents = sorted(p for p in known if p.endswith(".md"))
    for doc in documents:
        for number, target in links((root / doc).read_text(encoding="utf-8")):
            if re.match(r"^(https?:|mailto:|#)", target):
                continue
            path = target.split("#", 1)[0]
            resolved = (root / doc).parent / path
            try:
                relative = resolved.resolve().relative_to(root.resolve())
            except ValueError:
                broken.append(f"{doc}:{number}: {target} points outside the repository")
                continue
            if str(relative) not in known and str(relative) != ".":
                broken.append(f"{doc}:{number}: {target} names nothing the repository tracks")
    for line in broken:
        print(line)
    print(f"check_links: {len(documents)} documents, {len(broken)} broken links", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
