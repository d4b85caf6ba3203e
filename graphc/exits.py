"""The exit codes of every `graphc` command, in one place."""

EXIT_OK = 0
"""Success; a durable run that ended."""
EXIT_FAILED = 1
"""Errors in a spec, a run that failed, or the run database gone for longer than the bound."""
EXIT_USAGE = 2
"""A bad argument or request (the message says what to do)."""
EXIT_WAITING = 3
"""A durable run that waits for input (`graphc runs resume`)."""
EXIT_INTERRUPTED = 130
"""Ctrl-C, as a shell reports it."""
EXIT_BROKEN_PIPE = 141
"""The reader of stdout went away (`graphc runs list | head -1`), as a shell reports it for git."""
