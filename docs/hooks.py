"""MkDocs hooks: the pages that are generated from graphc itself, so they cannot drift from it.

- `<!-- graphc:cli-reference -->`: every command's `--help`, from the argument parsers;
- `<!-- graphc:codes -->`: every diagnostic code and its meaning (`dsl.diagnostics.CODE_MEANINGS`);
- `<!-- graphc:example NAME -->`: `examples/NAME` in its three syntaxes, as the files are (tested twins).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

RUNS_COMMANDS = ("list", "show", "resume", "cancel", "recover")


def _help(*args: str) -> str:
    from graphc.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main([*args, "--help"])
    return out.getvalue().rstrip()


def cli_reference() -> str:
    """Markdown: each command's help, as `graphc COMMAND --help` prints it at 100 columns."""
    from graphc.commands import COMMANDS as _COMMANDS

    os.environ["COLUMNS"] = "100"
    parts = ["```text\n" + _help() + "\n```"]
    for command in _COMMANDS:
        parts.append(f"### `graphc {command}`\n\n```text\n{_help(command)}\n```")
        if command == "runs":
            parts += [f"#### `graphc runs {sub}`\n\n```text\n{_help('runs', sub)}\n```" for sub in RUNS_COMMANDS]
    return "\n\n".join(parts)


def code_table() -> str:
    """Markdown: a table of every diagnostic code."""
    from dsl.diagnostics import CODE_MEANINGS

    escaped = {code: meaning.replace("|", "\\|") for code, meaning in CODE_MEANINGS.items()}
    rows = [f"| `{code}` | {meaning} |" for code, meaning in sorted(escaped.items())]
    return "\n".join(["| code | meaning |", "|---|---|", *rows])


def example(name: str) -> str:
    """Markdown: an example spec in `.graph`, YAML and TOML, one after the other."""
    parts = []
    for suffix, language, title in (("graph", "graph", ".graph"), ("yaml", "yaml", "YAML"), ("toml", "toml", "TOML")):
        text = (EXAMPLES / f"{name}.{suffix}").read_text(encoding="utf-8").rstrip()
        parts.append(f"**{title}** (`examples/{name}.{suffix}`):\n\n```{language}\n{text}\n```")
    return "\n\n".join(parts)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Fill in the generated parts of a page."""
    markdown = re.sub(r"<!-- graphc:example (\w+) -->", lambda m: example(m.group(1)), markdown)
    if "<!-- graphc:cli-reference -->" in markdown:
        markdown = markdown.replace("<!-- graphc:cli-reference -->", cli_reference())
    if "<!-- graphc:codes -->" in markdown:
        markdown = markdown.replace("<!-- graphc:codes -->", code_table())
    return markdown
