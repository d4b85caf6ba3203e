"""Plain Python the support desk spec calls: what a spec imports instead of writing inline."""

from __future__ import annotations

from dataclasses import dataclass

ARTICLES: dict[str, list[str]] = {
    "login": ["reset-your-password", "two-factor-help"],
    "general": ["contact-us"],
    "bug": [],
}
NOTIFICATIONS: list[tuple[str, str]] = []


@dataclass
class Ticket:
    """A customer's ticket."""

    subject: str
    body: str
    customer: str

    def accepts(self, article: str) -> bool:
        """Whether the customer says the article solved the problem."""
        return any(word in article for word in self.body.lower().split())


async def classify(ticket: Ticket) -> str:
    """A stand-in classifier: keywords decide."""
    text = f"{ticket.subject} {ticket.body}".lower()
    for kind, words in {
        "spam": ("prize", "winner"),
        "billing": ("invoice", "refund"),
        "login": ("password", "log in"),
        "bug": ("crash", "error"),
    }.items():
        if any(word in text for word in words):
            return kind
    return "general"


def search_articles(kind: str, limit: int) -> list[str]:
    """Help-centre articles for a kind of problem."""
    return ARTICLES.get(kind, [])[:limit]


async def notify(team: str, message: str) -> None:
    """Page a team (recorded, for the example)."""
    NOTIFICATIONS.append((team, message))
