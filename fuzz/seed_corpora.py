"""Writes the fuzz targets' seed corpora from the conformance vectors.

    python3 fuzz/seed_corpora.py tests/vectors fuzz/corpus

One file per vector and target, in each target's input format (see
fuzz/src/lib.rs and fuzz/src/c_abi.rs): `step` (bootstrap or state, then
event and `now` lines), `trace` (the vector line itself), `rfc3339` (every
`now` and instant in the vectors) and `c_abi` (the vector as C ABI calls).
Existing files are kept: the fuzzer's own finds accumulate beside the seeds.
"""

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def micros(text):
    """RFC 3339 text as Unix microseconds, or None when it is not one."""
    try:
        instant = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    if instant.tzinfo is None:
        return None
    delta = instant - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def instants(value):
    """Every string in `value` that looks like an instant."""
    if isinstance(value, str):
        if len(value) >= 10 and value[:4].isdigit():
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from instants(item)
    elif isinstance(value, list):
        for item in value:
            yield from instants(item)


def seeds(vector):
    bootstrap = compact(vector["bootstrap"])
    steps = vector["steps"]
    step_lines = []
    calls = [f"new 0 {bootstrap}"]
    for step in steps:
        event = compact(step.get("event"))
        now = step.get("now")
        step_lines += [event, now if isinstance(now, str) else compact(now)]
        at = micros(now) if isinstance(now, str) else None
        calls.append(f"step 0 {at if at is not None else 0} {event}")
        if isinstance(now, str):
            calls.append(f"instant {now}")
    calls += ["state 0", "settings 0", "revision 0", "error 200"]
    yield "step", "\n".join([bootstrap] + step_lines)
    yield "trace", compact(vector)
    yield "c_abi", "\n".join(calls)
    expected = vector.get("expected", [])
    for index, output in enumerate(expected):
        state = compact(output["state"])
        rest = step_lines[2 * (index + 1):]
        yield "step", "\n".join([state] + rest)
        first_now = next((micros(s["now"]) for s in steps if micros(s.get("now")) is not None), 0)
        yield "c_abi", "\n".join(
            [f"restore 1 {state}", f"deadline 1 {first_now}", f"probe 1 1 3 {first_now} 1.1.0",
             f"!step 1 {first_now} {{\"type\":\"activation_cleared\"}}", "state 1", "free 1"]
        )
    for text in set(instants(vector)):
        yield "rfc3339", text


def main(vectors_dir, corpus_dir):
    counts = {}
    for path in sorted(Path(vectors_dir).glob("*.jsonl")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            for index, (target, data) in enumerate(seeds(json.loads(line))):
                directory = Path(corpus_dir) / target
                directory.mkdir(parents=True, exist_ok=True)
                (directory / f"seed-{path.stem}-{number}-{index}").write_text(data)
                counts[target] = counts.get(target, 0) + 1
    print("seed corpora:", ", ".join(f"{t} {n}" for t, n in sorted(counts.items())))


if __name__ == "__main__":
    main(*sys.argv[1:3])
