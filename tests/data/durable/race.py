"""One side of a race, in a process of its own: answer (or cancel) each run at its time slot.

python race.py DB START_AT SLOT ACTION RUN_ID... — ACTION is a JSON input, or `cancel`.
Prints one JSON line per run: {"run": ..., "ok": bool, "message": ...}.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from compiler import load
from runtime.durable import DurableError, DurableRuns

REVIEW = Path(__file__).resolve().parents[3] / "examples" / "review.graph"


def main() -> None:
    db, start_at, slot, action, *run_ids = sys.argv[1:]
    graph = load(REVIEW)
    runs = DurableRuns(db)
    runs.get(run_ids[0])  # connect before the race starts
    try:
        for index, run_id in enumerate(run_ids):
            pause = float(start_at) + index * float(slot) - time.time()
            if pause > 0:
                time.sleep(pause)
            try:
                if action == "cancel":
                    runs.cancel(run_id)
                else:
                    runs.resume(run_id, graph, input=json.loads(action), wait=1)
                print(json.dumps({"run": run_id, "ok": True, "message": ""}), flush=True)
            except DurableError as e:
                print(json.dumps({"run": run_id, "ok": False, "message": str(e)}), flush=True)
    finally:
        runs.close()


if __name__ == "__main__":
    main()
