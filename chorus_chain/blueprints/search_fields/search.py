"""What a filter written as a search field holds once the request is read."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Search:
    """A filter written as a search field: the text it shows, the id it holds and what the page understood of a
    text typed by hand (empty when nothing needs saying)."""

    text: str
    value: int | None
    said: str = ""


def number(value) -> int | None:
    """An id sent by the browser, or None when it is none."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
