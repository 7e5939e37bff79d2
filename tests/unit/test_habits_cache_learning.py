"""The Trésorerie's habits kept per structure (`tresorerie.habits_cache`, issue 20): past their time, one request
learns them again while the others keep the previous ones — not every concurrent request reading the events."""
from chorus_chain.operations.tresorerie.habits_cache import LEARNING_SECONDS, HabitsCache


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_past_their_time_one_caller_learns_while_the_others_keep_the_previous_habits():
    clock = Clock()
    cache = HabitsCache(600, clock=clock)
    key = (7, "2026-12-07")
    assert cache.get(key) is None  # never learnt: the caller learns
    cache.put(key, {"moa": 30})
    clock.now += 601
    assert cache.get(key) is None  # the first caller past the time learns them again
    assert dict(cache.get(key)) == {"moa": 30}  # the others meanwhile: the previous habits
    assert dict(cache.get(key)) == {"moa": 30}
    cache.put(key, {"moa": 45})
    assert dict(cache.get(key)) == {"moa": 45}


def test_a_learning_that_never_came_back_is_handed_over():
    clock = Clock()
    cache = HabitsCache(600, clock=clock)
    key = (7, "2026-12-07")
    cache.put(key, {"moa": 30})
    clock.now += 601
    assert cache.get(key) is None  # taken, then the request failed: nothing put
    clock.now += LEARNING_SECONDS - 1
    assert dict(cache.get(key)) == {"moa": 30}
    clock.now += 2
    assert cache.get(key) is None  # handed over to the next caller


def test_another_key_is_never_served_the_previous_habits():
    clock = Clock()
    cache = HabitsCache(600, clock=clock)
    cache.put((7, "2026-12-07"), {"moa": 30})
    clock.now += 601
    assert cache.get((7, "2026-12-07")) is None
    assert cache.get((8, "2026-12-07")) is None
    assert cache.get((7, "2026-12-08")) is None
