"""`graphc tokens add|list|revoke`: who may use `graphc serve`, with which role."""

from __future__ import annotations

import argparse

from ._options import db_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments."""
    commands = parser.add_subparsers(dest="tokens_command", required=True, metavar="COMMAND")
    add = commands.add_parser("add", help="make a token (printed once; the database keeps its hash)")
    add.add_argument("name", metavar="NAME", help="whose it is: shown as who answered a wait")
    add.add_argument("--role", choices=("viewer", "operator", "admin"), default="viewer")
    db_option(add)
    list_ = commands.add_parser("list", help="the tokens: id, name, role, made, revoked")
    db_option(list_)
    revoke = commands.add_parser("revoke", help="revoke a token by its id (its console sessions end too)")
    revoke.add_argument("token_id", metavar="ID")
    db_option(revoke)


def run(args: argparse.Namespace) -> int:
    """Run the command; returns its exit code."""
    import sys
    from datetime import datetime, timezone

    from graphc.exits import EXIT_OK, EXIT_USAGE

    from ._durable import open_runs

    runs = open_runs(args.db)
    if runs is None:
        return EXIT_USAGE
    try:
        from graphc.serve.store import ConsoleStore

        runs._db(create=True)
        store = ConsoleStore(runs.url)
        if args.tokens_command == "add":
            print(store.add_token(args.name, args.role))
            print(f"graphc tokens: a {args.role} token for {args.name}; it is not shown again", file=sys.stderr)
        elif args.tokens_command == "list":
            for token in store.tokens():
                made = datetime.fromtimestamp(token["created"], timezone.utc).strftime("%Y-%m-%d %H:%M")
                revoked = "  revoked" if token["revoked"] else ""
                print(f"{token['id']}  {token['role']:<8}  {made}  {token['name']}{revoked}")
        elif not store.revoke(args.token_id):
            print(f"graphc tokens: error: no token with id {args.token_id}", file=sys.stderr)
            return EXIT_USAGE
    finally:
        runs.close()
    return EXIT_OK
