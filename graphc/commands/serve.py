"""`graphc serve`: the HTTP API and web console over a run database (needs graphc[serve])."""

from __future__ import annotations

import argparse

from ._options import db_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments."""
    db_option(parser)
    parser.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", type=int, default=8080, help="the port (default 8080)")
    parser.add_argument(
        "--secret-file",
        metavar="PATH",
        help="a file whose text signs the console's session cookies (default: a random secret per start)",
    )
    parser.add_argument(
        "--allow-import",
        action="append",
        default=[],
        metavar="MODULE",
        help="a module the specs of runs started through the API may import (as for graphc worker; default none)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the command; returns its exit code."""
    import sys

    from graphc.exits import EXIT_USAGE

    try:
        import uvicorn

        from graphc.serve.app import create_app
    except ImportError as e:
        print(f"graphc serve: error: it needs the serve extra ({e}): pip install 'graphc[serve]'", file=sys.stderr)
        return EXIT_USAGE
    from runtime.durable import DurableError

    secret = None
    if args.secret_file:
        try:
            with open(args.secret_file, encoding="utf-8") as handle:
                secret = handle.read().strip()
        except OSError as e:
            print(f"graphc serve: error: cannot read --secret-file: {e.strerror}: {args.secret_file}", file=sys.stderr)
            return EXIT_USAGE
    try:
        app = create_app(args.db, secret=secret, allowed_imports=args.allow_import)
    except DurableError as e:
        print(f"graphc serve: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"graphc serve: http://{args.host}:{args.port}/ (API under /api, OpenAPI at /api/openapi.json)", file=sys.stderr
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
