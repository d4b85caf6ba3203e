"""Typed helpers the type-check test spec calls: read by mypy, imported only when the spec runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Ticket:
    subject: str
    body: str = ""


def classify(ticket: Ticket) -> str:
    return "refund" if "refund" in ticket.body else "question"


async def fetch_status(ticket_id: int) -> str:
    return f"open:{ticket_id}"
