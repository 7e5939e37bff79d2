"""The sweep's digests' scope (operations.batch_digest): the digest is `g`'s for the block, written when the block
ends well, not when it fails (the batch is rolled back: nothing to write), and the outer one is back after it."""
from __future__ import annotations

import pytest
from flask import Flask, g

from chorus_chain.operations import batch_digest


class Gathered:
    def __init__(self):
        self.written = 0

    def write(self) -> int:
        self.written += 1
        return 0


def test_the_digest_is_written_when_the_block_ends_well_and_the_outer_one_is_back():
    with Flask(__name__).app_context():
        outer, inner = Gathered(), Gathered()
        with batch_digest.scoped("k", outer) as scoped:
            assert scoped is outer and g.k is outer
            with batch_digest.scoped("k", inner):
                assert g.k is inner
            assert (inner.written, outer.written) == (1, 0) and g.k is outer
        assert outer.written == 1 and g.get("k") is None


def test_a_block_that_fails_writes_nothing():
    with Flask(__name__).app_context():
        digest = Gathered()
        with pytest.raises(RuntimeError), batch_digest.scoped("k", digest):
            raise RuntimeError("the batch fails")
        assert digest.written == 0 and g.get("k") is None
