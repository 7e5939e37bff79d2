"""The MOE's « États d'acompte en préparation » on the Tableau de bord (issue 20): the marchés with a draft état,
bounded by what the panel shows, with the last état issued — the former query's rows with a draft (it listed every
marché of the MOE from all of their états), at each step of a month: a draft, issued, the next month's draft."""
from __future__ import annotations

from sqlalchemy import case, func, select

from chorus_chain.extensions import db
from chorus_chain.models import Marche, MarcheParty
from chorus_chain.models.money import EtatAcompte
from chorus_chain.operations import dashboard
from tests.integration.etat_pieces_world import at, correct_st1, issue, month_of_may, open_etat, validate
from tests.integration.pieces_world import acting, logged_in, world


def old_etats_by_marche(marche_ids):
    """The former query: every marché of the MOE joined to all of its états."""
    return [tuple(row) for row in db.session.execute(
        select(Marche.id, Marche.reference,
               func.count(case((EtatAcompte.status == "draft", EtatAcompte.id))),
               func.max(case((EtatAcompte.status == "issued", EtatAcompte.number))))
        .outerjoin(EtatAcompte, EtatAcompte.marche_id == Marche.id).where(Marche.id.in_(marche_ids))
        .group_by(Marche.id, Marche.reference).order_by(Marche.reference))]


def same_as_before(app, w) -> list[tuple]:
    with acting(app, w.moe) as (_, structure):
        assert dashboard.PART_MOE in dashboard.parts_of(structure)
        marches = db.session.scalars(select(MarcheParty.marche_id).where(
            MarcheParty.structure_id == structure.id, MarcheParty.status == "confirmed", MarcheParty.role == "moe"))
        expected = [row for row in old_etats_by_marche(list(marches)) if row[2] > 0]
        rows, total = dashboard.etats_by_marche(structure.id)
        assert [(r.marche_id, r.reference, r.drafts, r.last_issued) for r in rows] == expected
        assert total == len(expected)
        return expected


def test_the_panel_lists_the_marches_with_an_etat_in_preparation(app, db):
    w = world(app)
    month_of_may(app, w)
    moe = logged_in(app, w.moe)
    board = f"/s/{w.moe.siret}/tableau-de-bord"
    assert same_as_before(app, w) == []
    assert 'data-testid="etats-none"' in moe.get(board).get_data(as_text=True)
    etat_id = open_etat(app, w, "2026-05", at("2026-05-22"))
    [(marche_id, _reference, drafts, last_issued)] = same_as_before(app, w)
    assert (marche_id, drafts, last_issued) == (w.marche_id, 1, None)
    page = moe.get(board).get_data(as_text=True)
    assert 'data-testid="etats-by-marche"' in page and 'data-testid="etats-none"' not in page
    correct_st1(app, w, etat_id)
    issue(app, w, etat_id, at("2026-05-23"))
    assert same_as_before(app, w) == []  # issued: nothing in preparation
    validate(app, w, etat_id, at("2026-05-26"))
    open_etat(app, w, "2026-06", at("2026-06-22"))
    [(marche_id, _reference, drafts, _last)] = same_as_before(app, w)  # the next month's draft, after n° 1
    assert (marche_id, drafts) == (w.marche_id, 1)
