"""graphc as a library in someone else's process: no global side effects, no cache that grows for ever."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

from runtime import state

from .conftest import EXAMPLES, ROOT


def test_the_collector_is_left_alone_unless_the_process_is_graphcs() -> None:
    code = f"""
import gc
calls = []
gc.disable = lambda: calls.append("disable")
gc.freeze = lambda: calls.append("freeze")
import compiler
from dsl.parse import own_the_process
compiler.load({str(EXAMPLES / "support_desk.graph")!r}, use_disk_cache=False)
assert calls == [], calls  # a host application's collector: untouched
own_the_process()  # as `graphc` does in its own process
compiler.load({str(EXAMPLES / "vending.graph")!r}, use_disk_cache=False)  # parsed here, not read back
assert "disable" in calls and "freeze" in calls, calls
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_state_copiers_kept_are_bounded() -> None:
    classes = [dataclasses.make_dataclass(f"State{i}", [("n", int)]) for i in range(state._COPIERS_KEPT + 50)]
    for cls in classes:
        assert state.state_copier(cls)(cls(1)) == cls(1)
    assert len(state._copiers) <= state._COPIERS_KEPT
    assert classes[-1] in state._copiers and classes[0] not in state._copiers  # the latest are kept
