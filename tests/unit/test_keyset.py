"""The keyset cursor of the lists paged on plain keys (operations.board_reading.keyset): what `encode` writes,
`decode` reads back when each value has its kind; anything else (a hand-edited URL) is None, the list at the top."""
from __future__ import annotations

import pytest

from chorus_chain.operations.board_reading import keyset


@pytest.mark.parametrize("key, kinds", [
    (("M-12 travaux É", 42), (str, int)),
    (("M-1", "Plâtrerie Leroy & fils", 7), (str, str, int)),
])
def test_a_cursor_reads_back_what_it_wrote(key, kinds):
    text = keyset.encode(key)
    assert keyset.decode(text, kinds) == key
    assert "=" not in text and "/" not in text and "+" not in text  # as is in a URL


@pytest.mark.parametrize("text", [
    None, "", "garbage", "e30",
    keyset.encode(["M-1"]),            # too short
    keyset.encode(["M-1", 1, 2]),      # too long
    keyset.encode([1, "M-1"]),         # kinds swapped
    keyset.encode(["M-1", True]),      # a boolean is no id
    keyset.encode(["M-1", 1.5]),
    keyset.encode(["M-1", None]),
])
def test_anything_else_is_no_cursor(text):
    assert keyset.decode(text, (str, int)) is None
