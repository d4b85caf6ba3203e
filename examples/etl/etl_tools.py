"""What the ETL example's specs call: a download that takes 10 ms and fails now and then."""

from __future__ import annotations

import asyncio
import os

ATTEMPTS: dict[str, int] = {}
"""Attempts per URL in this process: every third URL fails its first attempt."""


class Flaky(Exception):
    """The network dropped the connection: worth another attempt."""


async def download(url: str) -> str:
    """The page's text; the first attempt at every third page fails with `Flaky`."""
    attempt = ATTEMPTS[url] = ATTEMPTS.get(url, 0) + 1
    await asyncio.sleep(float(os.environ.get("ETL_DOWNLOAD_SECONDS", "0.01")))
    number = int(url.rsplit("/", 1)[-1])
    if number % 3 == 0 and attempt == 1:
        raise Flaky(f"connection reset fetching {url}")
    return " ".join(["word"] * (number + 1))
