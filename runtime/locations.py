"""Spec locations for errors raised inside compiled nodes.

Generated code ends each statement with a `# <spec_file>:<line>` comment (on its
last line when it is split over several) and defines `SPEC_FILE`. When a node
raises, the runtime finds the node's frame in the traceback, reads that comment
and adds a note naming the spec line — and, when the error was raised inside
code the spec called, the file and line of that code too. Nodes therefore carry
no error-handling code of their own.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ("add_spec_note", "locate_node_errors", "note_node_error", "note_spec_line")


def add_spec_note(error: BaseException, module_file: str, spec_file: str) -> None:
    """Add notes naming the spec line running in `module_file` when `error` was raised.

    The first note names the spec line (`in flow.graph, line 7`); a second one names
    the innermost frame outside the generated module and the standard library, when
    the error came from code the spec called (`raised in helpers.py, line 12, in classify`).
    """
    import linecache  # here, not at the top: this function is copied into pydantic_graph modules
    import os
    import sysconfig

    spec_line = None
    helper = None
    stdlib = tuple(os.path.realpath(sysconfig.get_paths()[key]) for key in ("stdlib", "platstdlib"))
    tb = error.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename == module_file:
            helper = None
            line = tb.tb_lineno
            while text := linecache.getline(module_file, line):
                marker = text.rfind(f"# {spec_file}:")
                if marker >= 0:
                    spec_line = text[marker + len(spec_file) + 3 :].strip()
                    break
                line += 1  # inside a statement split over lines: its comment follows
        elif spec_line is not None and not os.path.realpath(code.co_filename).startswith(stdlib):
            helper = (code.co_filename, tb.tb_lineno, code.co_name)
        tb = tb.tb_next
    if spec_line is None:
        return
    notes = [f"in {spec_file}, line {spec_line}"]
    if helper is not None:
        path, line_number, function = helper
        try:
            shown = os.path.relpath(path)
        except ValueError:  # another drive on Windows
            shown = path
        notes.append(f"raised in {shown if not shown.startswith('..') else path}, line {line_number}, in {function}")
    for note in notes:
        if hasattr(error, "add_note"):
            error.add_note(note)
        else:  # Python 3.10
            error.__notes__ = [*getattr(error, "__notes__", []), note]


def note_spec_line(error: BaseException, node: object, module_file: str, line: int) -> None:
    """Note the spec line of `line` in the module of `node`'s class (a fork's transition, say) on `error`."""
    import linecache

    module = sys.modules.get(type(node).__module__)
    spec_file = getattr(module, "SPEC_FILE", None)
    if not isinstance(spec_file, str) or getattr(module, "__file__", None) != module_file:
        return
    while text := linecache.getline(module_file, line):
        marker = text.rfind(f"# {spec_file}:")
        if marker >= 0:
            note = f"in {spec_file}, line {text[marker + len(spec_file) + 3 :].strip()}"
            if hasattr(error, "add_note"):
                error.add_note(note)
            else:  # Python 3.10
                error.__notes__ = [*getattr(error, "__notes__", []), note]
            return
        line += 1


def note_node_error(error: BaseException, node: object) -> None:
    """Add spec notes to an error raised by `node.run`, when the node's class was compiled from a spec."""
    module = sys.modules.get(type(node).__module__)
    spec_file = getattr(module, "SPEC_FILE", None)
    module_file = getattr(module, "__file__", None)
    if isinstance(spec_file, str) and isinstance(module_file, str):
        add_spec_note(error, module_file, spec_file)


def locate_node_errors(nodes: tuple[type[Any], ...], module_file: str, spec_file: str) -> None:
    """Make each node's `run` add spec notes to what it raises (for libraries that do not, like pydantic_graph)."""
    from functools import wraps  # here, not at the top: this function is copied into pydantic_graph modules

    def located(run: Any) -> Any:
        @wraps(run)
        async def located_run(self: Any, ctx: Any) -> Any:
            try:
                return await run(self, ctx)
            except Exception as error:
                add_spec_note(error, module_file, spec_file)
                raise

        return located_run

    for node in nodes:
        setattr(node, "run", located(node.run))  # noqa: B010 -- mypy forbids assigning to a method
