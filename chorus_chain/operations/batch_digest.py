"""What the deadline sweep's two digests share (`mail_digest`: one e-mail per person, `bell_digest`: one in-app row
per person, structure and kind): a digest lives in `g` for the block of one batch, `notify` hands it what it would
have written, and the digest writes it all when the block ends without an error — an error rolls the batch back, so
there is nothing to write. A block inside another (a batch inside a batch) has its own digest; the outer one is back
when it ends."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

from flask import g


class Digest(Protocol):
    def write(self) -> int:
        """Write what was gathered (in as few statements as the kind allows), empty the digest, say how many."""


D = TypeVar("D", bound=Digest)


@contextmanager
def scoped(key: str, digest: D) -> Iterator[D]:
    """`digest` is `g`'s `key` inside the block, and is written when the block ends without an error."""
    previous = g.get(key)
    setattr(g, key, digest)
    try:
        yield digest
        digest.write()
    finally:
        setattr(g, key, previous)
