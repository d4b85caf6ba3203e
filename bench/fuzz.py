"""Long fuzzing run of every entry point: prints inputs tried, diagnostics produced and crashes.

    python bench/fuzz.py [INPUTS] [--seed N]

A crash is anything but a clean result or the project's `DiagnosticError` (for the
command line: anything but an exit code 0, 1 or 2). Crashing inputs are written to
`fuzz-crashes/` so each can become a regression test. Input mix: mutated example
specs (byte flips, truncation, duplication, splicing), grammar-aware specs built by
the hypothesis strategies of the test suite (printed in a random syntax, half of
them mutated too), and random `graphc` command lines.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

from dsl.printer import print_spec  # noqa: E402
from graphc.cli import main as graphc  # noqa: E402
from tests.fuzzing import SEEDS, compile_or_diagnose, mutate  # noqa: E402
from tests.strategies import specs  # noqa: E402

warnings.filterwarnings("ignore", message="Generating overly large repr")
CRASHES = Path("fuzz-crashes")
WORDS = [  # not `lsp`: it serves stdin until told to exit
    "compile",
    "check",
    "run",
    "mermaid",
    "diagram",
    "dot",
    "--no-prove",
    "--output",
    "text",
    "--max-steps",
    "0",
    "fmt",
    "schema",
    "--to",
    "yaml",
    "toml",
    "graph",
    "--format",
    "json",
    "--arg",
    "foo=3",
    "foo",
    "=",
    "--state",
    "{",
    "{}",
    "--start",
    "Nope",
    "-o",
    "-",
    "--target",
    "pydantic_graph",
    "--max-depth",
    "0",
    "--max-nodes",
    "-1",
    "--direction",
    "LR",
    "--highlight",
    "X",
    "--check",
    "--history",
]


class Tally:
    def __init__(self) -> None:
        self.tried = self.diagnosed = self.crashes = 0

    def feed(self, name: str, data: bytes) -> None:
        self.tried += 1
        try:
            self.diagnosed += compile_or_diagnose(name, data)
        except Exception:  # anything but a DiagnosticError (which compile_or_diagnose absorbs) is a crash
            self.crash(name, data, traceback.format_exc())

    def crash(self, name: str, data: bytes, trace: str) -> None:
        self.crashes += 1
        CRASHES.mkdir(exist_ok=True)
        (CRASHES / f"crash-{self.crashes}-{name}").write_bytes(data)
        (CRASHES / f"crash-{self.crashes}-{name}.txt").write_text(trace)


def fuzz_pipeline(tally: Tally, count: int, rng: random.Random) -> None:
    names = sorted(SEEDS)
    for _ in range(count):
        name = rng.choice(names)
        tally.feed(name, mutate(SEEDS[name], rng))


def fuzz_generated(tally: Tally, count: int, rng: random.Random) -> None:
    @settings(
        max_examples=count,
        deadline=None,
        phases=[Phase.generate],
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(specs)
    def one(spec: object) -> None:
        syntax = rng.choice(["graph", "yaml", "toml"])
        data = print_spec(spec, syntax).encode()  # type: ignore[arg-type]
        tally.feed(f"generated.{syntax}", mutate(data, rng) if rng.random() < 0.5 else data)

    one()


def fuzz_cli(tally: Tally, count: int, rng: random.Random) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="graphc-fuzz-"))  # `compile` writes beside the spec
    shutil.copytree(ROOT / "examples", workdir / "examples")
    files = [str(p) for p in (workdir / "examples").glob("*.graph")] + ["missing.graph", str(workdir)]
    sys.stdin = io.StringIO()  # the vending machine asks for input: give it none
    for _ in range(count):
        argv = [rng.choice(WORDS + files) for _ in range(rng.randint(0, 6))]
        tally.tried += 1
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                code = graphc(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 2
        except Exception:
            tally.crash("argv.txt", " ".join(argv).encode(), traceback.format_exc())
            continue
        if code not in (0, 1, 2):
            tally.crash("argv.txt", " ".join(argv).encode(), f"exit code {code}")
        elif code != 0:
            tally.diagnosed += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("inputs", nargs="?", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tally = Tally()
    start = time.perf_counter()
    mutated, generated = int(args.inputs * 0.6), int(args.inputs * 0.3)
    fuzz_pipeline(tally, mutated, rng)
    fuzz_generated(tally, generated, rng)
    fuzz_cli(tally, args.inputs - mutated - generated, rng)
    elapsed = time.perf_counter() - start
    print(
        f"inputs tried: {tally.tried:,} (mutated examples {mutated:,}, generated specs {generated:,}, "
        f"command lines {args.inputs - mutated - generated:,}); seed {args.seed}"
    )
    print(f"rejected with diagnostics (or a non-zero exit): {tally.diagnosed:,}")
    print(f"crashes: {tally.crashes}" + (f" (inputs in {CRASHES}/)" if tally.crashes else ""))
    print(f"time: {elapsed:.0f} s ({elapsed / max(tally.tried, 1) * 1e3:.2f} ms per input)")
    sys.exit(1 if tally.crashes else 0)


if __name__ == "__main__":
    main()
