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


def test_two_sweepers_threads_keep_it_off_until_the_last_batch_ends(collector_enabled):
    """Sweepers in threads of one process (`jobs.sweepers`): the first batch to end must not switch the collector on
    under the other's batch, and the second, which found it off (the first had turned it off), ending last, must
    give it back as the first found it."""
    import threading

    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def first_sweeper():
        with held_off():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    thread = threading.Thread(target=first_sweeper)
    thread.start()
    assert first_in.wait(5)
    with held_off():
        second_in.set()
        assert first_out.wait(5)
        thread.join(5)
        assert not gc.isenabled()
    assert gc.isenabled()
