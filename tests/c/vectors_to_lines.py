"""Turns conformance vectors (JSON Lines) into the line format vectors.c reads.

Why: the C test must feed the library each step's event and bootstrap
settings exactly as written. Re-printing them with cJSON would turn large
integers (e.g. active_jails = 2**64 - 1) into doubles and change what the core
sees; Python's json keeps them exact. So Python slices each vector into its
inputs, and C does the rest: it drives the C API and compares the outputs with
the expected ones as parsed JSON (cJSON_Compare), never as bytes.

Output, one record a line, fields separated by tabs (json.dumps never writes a
raw tab or newline):

    T <name> <bootstrap JSON>
    S c <now text> <event JSON> <expected JSON>   a step the C API can take
    S t - - <expected JSON>                       a step malformed at trace level
                                                  (no string `now`, no event):
                                                  only "rejected, state unchanged"
                                                  can be checked through the C API
    E                                             end of trace
"""
import json
import sys


def dumps(value):
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


def main(paths):
    out = sys.stdout
    count = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                vector = json.loads(line)
                name = vector.get("name", f"{path}:{number}")
                out.write(f"T\t{dumps(name)}\t{dumps(vector['bootstrap'])}\n")
                for step, expected in zip(vector["steps"], vector["expected"], strict=True):
                    now = step.get("now") if isinstance(step, dict) else None
                    takeable = (isinstance(now, str) and not any(c in now for c in "\t\n\r\0")
                                and "event" in step)
                    if takeable:
                        out.write(f"S\tc\t{now}\t{dumps(step['event'])}\t{dumps(expected)}\n")
                    else:
                        out.write(f"S\tt\t-\t-\t{dumps(expected)}\n")
                out.write("E\n")
                count += 1
    print(f"vectors_to_lines: {count} traces from {len(paths)} files", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
