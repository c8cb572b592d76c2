"""Run the Flux conformance vectors (see shared/flux-conformance/README.md).

    python -m fluxlab.flux.conformance DIR [--report out.json] [--timeout 10] [-k substr]

Each vector's preamble and setup run as one program; `got` and `want` are then
evaluated in that program's scope and compared like `testing.diff`. Prints coverage
per function, then a last line `N passed, M failed`. Always exits 0.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fluxlab.flux.context import Context
from fluxlab.flux.errors import FluxError, FluxRuntimeError
from fluxlab.flux.interpreter import Interpreter
from fluxlab.flux.parser import parse, parse_expression
from fluxlab.flux.stdlib.testing import diff_streams
from fluxlab.flux.table import Stream
from fluxlab.flux.values import type_name


@dataclass(slots=True)
class Outcome:
    id: str
    file: str
    passed: bool
    error: str | None = None
    seconds: float = 0.0
    functions: list[str] = field(default_factory=list)


class _Timeout(Exception):
    pass


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Interrupt a vector that overruns (backup for the cooperative time check)."""
    usable = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise _Timeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def evaluate_vector(vector: dict[str, Any], timeout_s: float = 10.0) -> list[str]:
    """Differences between the vector's `got` and `want` (raises on evaluation errors)."""
    ctx = Context(timeout_s=timeout_s)
    interp = Interpreter(ctx)
    program = parse(vector.get("preamble", "") + "\n" + vector.get("setup", ""))
    interp.run(program)
    want = _stream(interp, vector["want"], "want")
    if not interp.globals.lookup("want")[0]:
        interp.globals.define("want", want)  # the testcase block named it so
    got = _stream(interp, vector["got"], "got")
    return diff_streams(got, want)


def _stream(interp: Interpreter, source: str, label: str) -> Stream:
    value = interp.eval(parse_expression(source), interp.globals)
    if not isinstance(value, Stream):
        raise FluxRuntimeError(f"{label} is not a stream of tables but a {type_name(value)}")
    return value


def run_vector(path: Path, timeout_s: float = 10.0) -> Outcome:
    vector = json.loads(path.read_text(encoding="utf-8"))
    outcome = Outcome(vector.get("id", path.stem), path.name, False,
                      functions=list(vector.get("functions", [])))
    started = time.monotonic()
    try:
        with _alarm(timeout_s * 1.5):
            problems = evaluate_vector(vector, timeout_s)
        outcome.passed = not problems
        outcome.error = "; ".join(problems[:3]) if problems else None
    except _Timeout:
        outcome.error = f"timeout: vector took more than {timeout_s * 1.5:.0f}s"
    except FluxError as exc:
        outcome.error = f"{type(exc).__name__}: {exc}"
    except RecursionError:
        outcome.error = "RecursionError: nesting too deep"
    except Exception as exc:  # noqa: BLE001 - a crash in one vector must not stop the run
        outcome.error = f"crash {type(exc).__name__}: {exc}"
    outcome.seconds = round(time.monotonic() - started, 3)
    return outcome


def run_directory(
    directory: Path, timeout_s: float = 10.0, only: str | None = None
) -> list[Outcome]:
    paths = sorted(directory.glob("*.json"))
    if only:
        paths = [p for p in paths if only in p.name]
    return [run_vector(p, timeout_s) for p in paths]


def coverage(outcomes: list[Outcome]) -> dict[str, tuple[int, int]]:
    """Per function: (vectors passed, vectors using it)."""
    totals: Counter[str] = Counter()
    passed: Counter[str] = Counter()
    for o in outcomes:
        for fn in set(o.functions):
            totals[fn] += 1
            passed[fn] += o.passed
    return {fn: (passed[fn], totals[fn]) for fn in sorted(totals)}


def failure_causes(outcomes: list[Outcome], top: int = 15) -> list[tuple[str, int]]:
    """Most common failure messages with the vector-specific details cut off."""
    causes: Counter[str] = Counter()
    for o in outcomes:
        if not o.passed and o.error:
            message = re.sub(r"error at \d+:\d+: ", "", o.error)
            causes[re.sub(r"\{.*", "", message)[:90]] += 1
    return causes.most_common(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("-k", dest="only", default=None, help="only files whose name has this")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every failure")
    args = parser.parse_args(argv)
    outcomes = run_directory(args.directory, args.timeout, args.only)
    for fn, (ok, total) in coverage(outcomes).items():
        print(f"{fn:40s} {ok}/{total}")
    if args.verbose:
        for o in outcomes:
            if not o.passed:
                print(f"FAIL {o.file}: {o.error}")
    print("top failure causes:")
    for cause, count in failure_causes(outcomes):
        print(f"  {count:4d}  {cause}")
    if args.report:
        report = [asdict(o) for o in outcomes]
        args.report.write_text(json.dumps(report, indent=1), encoding="utf-8")
    passed = sum(o.passed for o in outcomes)
    print(f"{passed} passed, {len(outcomes) - passed} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
