"""Unit-test fixtures shared by several modules."""
from __future__ import annotations

import sys

import pytest

# Watching the process: one audit hook (hooks can never be removed) records file opens and network calls while a
# test asks for them through `io_events`.
_EVENTS: list[tuple[str, tuple]] | None = None


def _audit(event: str, args: tuple) -> None:
    if _EVENTS is not None and (event == "open" or event.startswith(("socket.", "urllib."))):
        _EVENTS.append((event, args))


sys.addaudithook(_audit)


@pytest.fixture
def io_events():
    """The (event, args) of every file open and socket/urllib call made during the test."""
    global _EVENTS
    _EVENTS = []
    try:
        yield _EVENTS
    finally:
        _EVENTS = None
