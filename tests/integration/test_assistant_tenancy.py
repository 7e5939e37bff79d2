"""Tenancy of the assistant: as each demo company and as an outsider, ask about every piece of the demo by number,
through the panel's route. It answers only about the pieces that structure may see (emitter or access row, the
pages' predicate), and for any other number exactly as for a number that does not exist: same status, same words,
same links."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from chorus_chain import demo
from chorus_chain.access import system_access
from chorus_chain.extensions import db
from chorus_chain.models import Account, Marche, Piece, PieceAccess, Structure
from tests import factories
from tests.conftest import ensure_demo

NOWHERE = "ZZ-0000-999"  # a number no piece has


def _chat_part(response) -> str:
    """The last answer of the panel, the asked number replaced: what must not differ between an invisible piece and
    a number that does not exist."""
    text = html.unescape(response.get_data(as_text=True))
    answers = re.findall(r'<li class="chat-line chat-assistant"[^>]*>.*?</li>', text, re.S)
    part = re.sub(r'id="chat-msg-\d+" data-id="\d+"', "", answers[-1])
    return re.sub(r'<small class="muted">[^<]*</small>', "", part)  # the time it was said (the minute may turn)


@pytest.fixture(scope="module")
def app(demo_app):
    """This module reads the demo: a database of its own holding it (tests/conftest.py `demo_app`)."""
    return demo_app


@pytest.fixture
def world(app, db):
    with app.app_context():
        ensure_demo()
        with system_access("test: what each structure may see"):
            marche_id = db.session.scalar(select(Marche.id).where(Marche.reference == demo.DEMO_MARCHE))
            pieces = db.session.execute(select(Piece.id, Piece.number, Piece.emitter_structure_id)
                                        .where(Piece.marche_id == marche_id)).all()
            seen = {}
            for piece_id, _, emitter in pieces:
                seen.setdefault(emitter, set()).add(piece_id)
            for piece_id, structure_id in db.session.execute(select(PieceAccess.piece_id, PieceAccess.structure_id)):
                seen.setdefault(structure_id, set()).add(piece_id)
        structures = {c.key: db.session.scalar(select(Structure.id).where(Structure.siret == c.siret))
                      for c in demo.COMPANIES}
    outsider = factories.account(app, first_name="Intrus")
    outsider_structure = factories.structure(app, outsider, name="Entreprise hors du marché")
    return {"pieces": pieces, "seen": seen, "structures": structures, "outsider": outsider,
            "outsider_structure": outsider_structure}


def _client(app, email, password=demo.DEMO_PASSWORD):
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.email == email))
        db.session.expunge(account)
    client = app.test_client()
    factories.login(client, account, password=password)
    return client


def _ask(client, siret, number):
    response = client.post(f"/s/{siret}/assistant/questions",
                           data={"question": f"où en est la pièce {number} ?", "page": f"/s/{siret}/"})
    assert response.status_code == 200
    return response


def _check(client, siret, structure_id, world):
    nowhere = _chat_part(_ask(client, siret, NOWHERE)).replace(NOWHERE, "<n>")
    answered = hidden = 0
    numbers: dict[str, set[int]] = {}
    for piece_id, number, _ in world["pieces"]:
        numbers.setdefault(number, set()).add(piece_id)
    for number, ids in sorted(numbers.items()):
        part = _chat_part(_ask(client, siret, number))
        visible = ids & world["seen"].get(structure_id, set())
        if visible:
            assert any(f"/pieces/{pid}\"" in part for pid in visible), (siret, number, part)
            answered += 1
        else:
            assert part.replace(number, "<n>") == nowhere, (siret, number, part)
            hidden += 1
        for pid in ids - visible:
            assert f"/pieces/{pid}\"" not in part
    return answered, hidden


def test_each_demo_company_hears_only_of_the_pieces_it_may_see(app, world):
    totals = {}
    for company in demo.COMPANIES:
        client = _client(app, company.email)
        totals[company.key] = _check(client, company.siret, world["structures"][company.key], world)
    # The chain's companies see different pieces: the walk met both cases (the small sous-traitant, which deposited
    # nothing, sees none; the buyer sees every public piece but not the private invoices).
    assert sum(hidden for _, hidden in totals.values()) > 0, totals
    # Every company has pieces of its own now (Moreau its private invoice NM-2026-001), and none sees them all.
    assert all(answered for answered, _ in totals.values()), totals
    assert totals["moa"][1] > 0, totals


def test_an_outsider_hears_of_no_piece_at_all(app, world):
    client = _client(app, world["outsider"].email, password=factories.PASSWORD)
    answered, hidden = _check(client, world["outsider_structure"].siret, world["outsider_structure"].id, world)
    assert answered == 0 and hidden > 0


def test_a_member_without_the_works_right_hears_of_no_works_piece(app, world):
    """The member's rights count as on the pages: a works piece is "travaux"; without it, as if it did not exist."""
    with app.app_context():
        mandataire = db.session.scalar(select(Structure).where(Structure.siret == demo.COMPANIES[2].siret))
        db.session.expunge(mandataire)
    member = factories.account(app)
    factories.member(app, mandataire, member, emises="consultation", travaux="none", recues="consultation")
    client = _client(app, member.email, password=factories.PASSWORD)
    nowhere = _chat_part(_ask(client, mandataire.siret, NOWHERE)).replace(NOWHERE, "<n>")
    part = _chat_part(_ask(client, mandataire.siret, "DB-PDM-01"))
    assert part.replace("DB-PDM-01", "<n>") == nowhere
