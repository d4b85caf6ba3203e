"""Fuzzing helpers shared by the test suite and `bench/fuzz.py`."""

from __future__ import annotations

import random
from pathlib import Path

from compiler.checks import check_spec
from compiler.codegen import generate
from dsl.diagnostics import DiagnosticError
from dsl.parse import parse_source
from dsl.source import source_from_text

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SEEDS = {p.name: p.read_bytes() for p in sorted(EXAMPLES.iterdir()) if p.suffix in (".graph", ".yaml", ".toml")}


def compile_or_diagnose(name: str, data: bytes | str) -> bool:
    """Run the whole pipeline; only the project's diagnostic error may escape.

    Returns whether the input was rejected with diagnostics.
    """
    try:
        checked = check_spec(parse_source(source_from_text(name, data)))
        generated = generate(checked)
        compile(generated.source, name, "exec")  # generated code is always valid Python
    except DiagnosticError as e:
        assert e.diagnostics, "a DiagnosticError must carry diagnostics"
        return True
    return False


def mutate(data: bytes, rng: random.Random) -> bytes:
    """Byte flips, truncation, duplication and splicing of a seed spec."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(5)
        if choice == 0 and buf:
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif choice == 1 and buf:
            del buf[rng.randrange(len(buf)) :]
        elif choice == 2 and buf:
            start = rng.randrange(len(buf))
            end = min(len(buf), start + rng.randint(1, 40))
            buf[start:start] = buf[start:end]
        elif choice == 3:
            other = rng.choice(list(SEEDS.values()))
            cut = rng.randrange(len(other))
            buf[rng.randrange(len(buf) + 1) :] = other[cut : cut + rng.randint(1, 200)]
        elif buf:
            start = rng.randrange(len(buf))
            del buf[start : start + rng.randint(1, 20)]
    return bytes(buf)
