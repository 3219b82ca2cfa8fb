"""Shared fixtures: the vectors to replay, and a bootstrap settings object."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]


def vector_files() -> list[Path]:
    """$BANGUI_STATE_VECTORS (paths separated by spaces), else the project's
    tests/vectors/*.jsonl and this binding's own traces."""
    explicit = os.environ.get("BANGUI_STATE_VECTORS")
    if explicit:
        return [Path(p) for p in explicit.split()]
    return sorted((REPO / "tests" / "vectors").glob("*.jsonl")) + [
        REPO / "bindings-c" / "tests" / "vectors" / "binding.jsonl"
    ]


def load_vectors() -> list[Any]:
    vectors = []
    for path in vector_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                vector = json.loads(line)
                vectors.append(pytest.param(vector, id=f"{path.name}:{number}:{vector.get('name', '')[:40]}"))
    return vectors


@pytest.fixture
def bootstrap() -> dict[str, Any]:
    return {"session_cache_enabled": True, "session_cache_ttl_seconds": 3600, "database_path": "/tmp/x.db"}
