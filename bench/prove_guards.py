"""Time the guard prover on the support desk spec (target: under 1 s), beside parse + check alone."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler.checks import check_spec  # noqa: E402
from compiler.guards import prove_guards  # noqa: E402
from dsl.parse import parse_file  # noqa: E402


def main() -> None:
    spec_path = ROOT / "examples" / "support_desk.graph"
    checks, proofs = [], []
    for _ in range(10):
        start = time.perf_counter()
        checked = check_spec(parse_file(spec_path)[1])
        middle = time.perf_counter()
        warnings = prove_guards(checked)
        proofs.append(time.perf_counter() - middle)
        checks.append(middle - start)
    guards = sum(1 for n in checked.spec.nodes for b in n.next if b.condition is not None)
    print(f"support desk: {len(checked.spec.nodes)} nodes, {guards} guards, {len(warnings)} warnings")
    print(f"parse + check: median {statistics.median(checks) * 1000:.1f} ms")
    median, first = statistics.median(proofs) * 1000, proofs[0] * 1000
    print(f"prove guards:  median {median:.1f} ms (target < 1000 ms), first run {first:.1f} ms")


if __name__ == "__main__":
    main()
