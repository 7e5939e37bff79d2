"""The assistant's evaluation set (tests/assistant_eval.py) on the demo: at least 80 questions across every role of
the demo, ≥ 90 % answered correctly, none answered wrongly with confidence."""
from __future__ import annotations

from collections import Counter

import pytest

from chorus_chain import demo, demo_money
from tests import assistant_eval as E
from tests.conftest import ensure_demo


def test_the_set_covers_every_role_of_the_demo_with_at_least_80_questions():
    askers = {case.who for case in E.CASES}
    assert len(E.CASES) + len(E.HELD_OUT) >= 80
    assert {c.key for c in demo.COMPANIES} | {E.EXTRA} <= askers
    numbers = {s.number for s in demo.DEMO_PIECES} | set(demo_money.pdm_numbers())
    cited = {n for case in E.CASES + E.HELD_OUT for e in case.expect if e.startswith("piece:")
             for n in e.split(":", 1)[1].split("|")}
    assert cited <= numbers, "the set cites pieces the demo no longer seeds"


@pytest.fixture(scope="module")
def app(demo_app):
    """This module reads the demo: a database of its own holding it (tests/conftest.py `demo_app`)."""
    return demo_app


@pytest.fixture
def seeded(app, db):
    with app.test_request_context():
        ensure_demo()
        yield


def test_the_assistant_answers_the_set(seeded):
    verdicts = E.run()
    outcomes = Counter(v.outcome for v in verdicts)
    report = "\n".join(f"[{v.outcome}] {v.case.who}: {v.case.question!r} → {v.answer.kind}: {v.answer.text} "
                       f"{v.problems}" for v in verdicts if v.outcome != E.CORRECT)
    assert outcomes[E.WRONG] == 0, report
    assert outcomes[E.CORRECT] / len(verdicts) >= 0.9, report
