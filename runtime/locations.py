"""Spec locations for errors raised inside compiled nodes."""

from __future__ import annotations

import linecache

__all__ = ("note_spec_location",)


def note_spec_location(error: BaseException, module_file: str, spec_file: str) -> None:
    """Add a note naming the spec line that was running when `error` was raised in a compiled node.

    Generated code ends each statement with a `# <spec_file>:<line>` comment (on its
    last line when it is split over several); the deepest traceback entry in
    `module_file` names the line.
    """
    spec_line = None
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == module_file:
            line = tb.tb_lineno
            while text := linecache.getline(module_file, line):
                marker = text.rfind(f"# {spec_file}:")
                if marker >= 0:
                    spec_line = text[marker + len(spec_file) + 3 :].strip()
                    break
                line += 1  # inside a statement split over lines: its comment follows
        tb = tb.tb_next
    if spec_line is not None:
        note = f"in {spec_file}, line {spec_line}"
        if hasattr(error, "add_note"):
            error.add_note(note)
        else:  # Python 3.10
            error.__notes__ = [*getattr(error, "__notes__", []), note]
