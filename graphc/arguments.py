r"""Values given on the command line as JSON (`--arg`, `--state`, `--deps`, `--input`), read safely.

Whatever a user types gets a message, never a traceback: malformed JSON, JSON nested deeper
than the parser can follow, and strings that are not text (a lone surrogate such as
`"\ud800"`, or bytes the shell could not decode), which no database or JSON encoder takes.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # not `typing`'s (pyproject: mypy always_true)
if TYPE_CHECKING:
    from typing import Any

__all__ = ("ArgumentValueError", "json_value", "plain_or_json")


class ArgumentValueError(ValueError):
    """A command-line value that cannot be used; the message names the option."""


def json_value(text: str, what: str) -> Any:
    """The JSON value `text` holds; ArgumentValueError naming `what` if it is malformed, too deep or not text."""
    return _read(text, what, plain_allowed=False)


def plain_or_json(text: str, what: str) -> Any:
    """`--arg`'s VALUE: JSON if it reads as JSON, else the plain string (text either way)."""
    return _read(text, what, plain_allowed=True)


def _read(text: str, what: str, *, plain_allowed: bool) -> Any:
    try:
        value = json.loads(text)
    except RecursionError:
        raise ArgumentValueError(f"{what} is nested too deeply to read") from None
    except json.JSONDecodeError as e:
        if not plain_allowed:
            raise ArgumentValueError(f"{what} is not valid JSON: {e}") from None
        value = text
    return _text_only(value, what)


def _text_only(value: Any, what: str) -> Any:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        bad = e.object[e.start : e.end]
        raise ArgumentValueError(
            f"{what} holds {bad.encode('unicode_escape').decode()}, which is not text (a lone surrogate)"
        ) from None
    except RecursionError:
        raise ArgumentValueError(f"{what} is nested too deeply to use") from None
    return value
