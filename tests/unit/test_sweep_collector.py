"""The sweep's batch holds Python's cyclic collector off (`operations.sweep.collector`) and gives it back as it was."""
from __future__ import annotations

import gc

import pytest

from chorus_chain.operations.sweep.collector import held_off


@pytest.fixture
def collector_enabled():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_the_collector_is_off_inside_and_on_again_after(collector_enabled):
    with held_off():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_is_on_again_when_the_batch_raised(collector_enabled):
    with pytest.raises(RuntimeError), held_off():
        raise RuntimeError("the batch failed")
    assert gc.isenabled()


def test_a_collector_disabled_by_the_caller_stays_disabled(collector_enabled):
    gc.disable()
    with held_off():
        assert not gc.isenabled()
    assert not gc.isenabled()
