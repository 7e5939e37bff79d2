"""A works marché with every kind of party, and helpers to drive the pieces' operations as each of them — shared by
tests/integration/test_pieces_*.py.

The world (groupement conjoint, 1 200 000 € HT):
- moa: Commune (public), also the paying office (service FIN: engagement number required; routing requirement
  "code_service"), services TECH and FIN;
- moe; mandataire (600 000 € TTC); cotraitant (600 000 € TTC);
- st1: rang-1 sous-traitant of the mandataire (96 000 € TTC, paiement direct, autoliquidation);
- sibling: another rang-1 sous-traitant of the mandataire (48 000 € TTC);
- st_co: rang-1 sous-traitant of the cotraitant (54 000 € TTC: validators cotraitant then mandataire);
- st2: rang-2 sous-traitant under st1 (private invoices to st1).
Every party is confirmed, every DC4 accepted; each company has a gestionnaire (`account_id`) and a bank account.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

from sqlalchemy import func, select

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.models import Account, Deadline, Marche, MarcheParty, Piece, Service, Structure
from tests import factories

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
ISSUED = date(2026, 2, 27)


@dataclass(frozen=True)
class Actor:
    key: str
    structure_id: int
    siret: str
    name: str
    account_id: int
    party_id: int | None


def _company(app, key: str, name: str, *, public: bool = False) -> SimpleNamespace:
    gp = factories.quick_account(app, first_name=key)
    structure = factories.structure(app, gp, name=name, is_public=public)
    factories.bank_account(app, structure, is_default=True)
    return SimpleNamespace(gp=gp, structure=structure)


def world(app, *, kind: str = "travaux") -> SimpleNamespace:
    """The marché above (or, with kind="services", a services marché with the same parties but no MOE)."""
    companies = {
        "moa": _company(app, "moa", "Commune de Test", public=True),
        "moe": _company(app, "moe", "Atelier Test"),
        "mandataire": _company(app, "mandataire", "Durand Test"),
        "cotraitant": _company(app, "cotraitant", "Martin Test"),
        "st1": _company(app, "st1", "Plâtrerie Test"),
        "sibling": _company(app, "sibling", "Carrelage Test"),
        "st_co": _company(app, "st_co", "Menuiserie Test"),
        "st2": _company(app, "st2", "Peinture Test"),
    }
    factories.service(app, companies["moa"].structure, code="TECH", name="Services techniques")
    factories.service(app, companies["moa"].structure, code="FIN", name="Service financier", engagement_required=True)
    parties = [
        ("moa", "moa", None, None),
        ("moa", "paying_office", None, None),
        ("moe", "moe", None, None),
        ("mandataire", "mandataire", None, "600000.00"),
        ("cotraitant", "cotraitant", "mandataire", "600000.00"),
        ("st1", "sous_traitant", "mandataire", "96000.00"),
        ("sibling", "sous_traitant", "mandataire", "48000.00"),
        ("st_co", "sous_traitant", "cotraitant", "54000.00"),
        ("st2", "sous_traitant", "st1", "18000.00"),
    ]
    if kind != "travaux":
        parties = [p for p in parties if p[1] != "moe"]
    with app.app_context():
        moa = db.session.get(Structure, companies["moa"].structure.id)
        moa.routing_requirement = "code_service"
        marche = Marche(reference=f"M-{moa.siret}-{kind}", objet="Réhabilitation de l'école", kind=kind,
                        moa_service_code="TECH", engagement_number="EJ-2026-1", paying_service_code="FIN",
                        montant_ht=Decimal("1000000.00"), tva_rate=Decimal("20.00"), dgp_days=30, moe_days=7,
                        groupement="conjoint", created_by_id=moa.id)
        db.session.add(marche)
        db.session.flush()
        rows: dict[str, MarcheParty] = {}
        for key, role, parent, montant in parties:
            structure = companies[key].structure
            row = MarcheParty(marche_id=marche.id, structure_id=structure.id, siret=structure.siret,
                              name=structure.name, role=role, parent_id=rows[parent].id if parent else None,
                              montant_ttc=Decimal(montant) if montant else None, status="confirmed",
                              service_code="FIN" if role == "paying_office" else None)
            if role == "sous_traitant":
                row.dc4_status, row.accepted_on = "accepted", date(2026, 1, 15)
            db.session.add(row)
            db.session.flush()
            rows["paying_office" if role == "paying_office" else key] = row
        db.session.commit()
        w = SimpleNamespace(marche_id=marche.id, kind=kind)
        for key, company in companies.items():
            setattr(w, key, Actor(key, company.structure.id, company.structure.siret, company.structure.name,
                                  company.gp.id, rows[key].id if key in rows else None))
        w.paying_office_party = rows["paying_office"].id
    return w


# --- running operations as someone ----------------------------------------------------------------------------------


@contextmanager
def acting(app, who: Actor):
    """A request context working for `who`'s structure (the tenant), with its gestionnaire's account; commits at
    the end of the block (as a request that answered < 400 would)."""
    with app.test_request_context(), access.tenant(who.structure_id):
        account = db.session.get(Account, who.account_id)
        structure = db.session.get(Structure, who.structure_id)
        yield account, structure
        db.session.commit()


def logged_in(app, who: Actor):
    """A test client logged in as `who`'s gestionnaire."""
    with app.app_context():
        account = db.session.get(Account, who.account_id)
        db.session.expunge(account)
    client = app.test_client()
    factories.login(client, account)
    return client


@contextmanager
def system(app):
    with app.test_request_context(), access.system_access("tests: reading every tenant's rows"):
        yield
        db.session.commit()


def draft_form(app, w, who: Actor, cadre: str | None, number: str, ht: str = "1000.00", tva: str | None = None,
               **overrides) -> dict:
    """The draft form as a user would post it: the pre-filled fields plus a number, a date and amounts (TVA 20 %
    unless autoliquidation)."""
    from chorus_chain.operations import pieces as ops

    with acting(app, who) as (_, structure):
        form = ops.draft_defaults(structure, w.marche_id, who.party_id, cadre)
    ht_value = Decimal(ht.replace(" ", "").replace(",", "."))
    if tva is None:
        tva = "0.00" if form["vat_regime"] == "autoliquidation" else f"{(ht_value * Decimal('0.2')):.2f}"
    form.update(number=number, issue_date=ISSUED.isoformat(), montant_ht=ht, montant_tva=tva,
                montant_ttc=f"{ht_value + Decimal(tva):.2f}")
    form.update(overrides)
    return form


def create(app, w, who: Actor, cadre: str | None, number: str, *, main: bytes | None = PDF, now: datetime = NOW,
           **form) -> int:
    from chorus_chain.operations import pieces as ops

    raw = draft_form(app, w, who, cadre, number, **form)
    with acting(app, who) as (account, structure):
        piece = ops.create_draft(account, structure, w.marche_id, raw,
                                 main_file=ops.UploadedFile("facture.pdf", main) if main else None, now=now)
        return piece.id


def deposit(app, w, who: Actor, cadre: str | None, number: str, *, now: datetime = NOW, **form) -> int:
    """Create a draft and send it; returns the piece's id."""
    from chorus_chain.operations import pieces as ops

    piece_id = create(app, w, who, cadre, number, now=now, **form)
    with acting(app, who) as (account, structure):
        ops.deposit(piece_id, account, structure, now=now)
    return piece_id


def act(app, who: Actor, piece_id: int, action: str, *, now: datetime = NOW, expected: str | None = None, **inputs):
    """Take an action as `who`, from the status the piece has now (or `expected`); returns the new status.

    `issue_etat_acompte` on a projet de décompte goes through the état, as in the product (`issue_in_etat`)."""
    from chorus_chain.operations import pieces as ops

    expected = expected or status_of(app, piece_id)
    if action == "issue_etat_acompte":
        return issue_in_etat(app, who, piece_id, now=now, expected=expected, **inputs)
    with acting(app, who) as (account, structure):
        piece = ops.act(piece_id, account, structure, action, expected_status=expected, now=now, **inputs)
        return piece.status


def issue_in_etat(app, who: Actor, piece_id: int, *, now: datetime = NOW, expected: str | None = None,
                  amount=None, contest: bool | None = None) -> str:
    """The MOE issues an état d'acompte carrying this one projet de décompte; returns the piece's new status.

    A PDM leaves the MOE's desk only inside the état being issued (`pieces_actions.issue_into_etat`): the set-up
    writes a draft état of the piece's month and attaches the piece's décompte to it (an empty one for a PDF-only
    projet), then takes the état's own move; that scaffolding is removed after, so the piece is again the PDF-only
    projet it was. These tests drive the transition table of one piece, not the money engine:
    tests/integration/test_etat_pieces*.py issue real états from the bordereau."""
    from chorus_chain.models.money import Decompte, EtatAcompte
    from chorus_chain.operations import pieces_actions

    with system(app):
        row = db.session.get(Piece, piece_id)
        month = f"{row.issue_date.year:04d}-{row.issue_date.month:02d}" if row.issue_date else "2026-02"
        number = (db.session.scalar(select(func.max(EtatAcompte.number)).where(
            EtatAcompte.marche_id == row.marche_id)) or 0) + 1
        etat = EtatAcompte(marche_id=row.marche_id, number=number, month=month, status="draft",
                           created_by_id=who.account_id)
        db.session.add(etat)
        db.session.flush()
        decompte = db.session.scalar(select(Decompte).where(Decompte.piece_id == piece_id))
        scaffold = decompte is None
        if scaffold:
            decompte = Decompte(piece_id=piece_id, marche_id=row.marche_id, party_id=row.emitter_party_id,
                                month=month)
            db.session.add(decompte)
        decompte.etat_acompte_id = etat.id
        db.session.flush()
        etat_id, decompte_id = etat.id, decompte.id
    with acting(app, who) as (account, structure):
        etat = db.session.get(EtatAcompte, etat_id)
        status = pieces_actions.issue_into_etat(
            piece_id, etat, account, structure, expected_status=expected or status_of(app, piece_id),
            amount=amount, comment=f"État d'acompte n° {etat.number}", contest=contest, now=now).status
    if scaffold:
        with system(app):
            db.session.delete(db.session.get(Decompte, decompte_id))
            db.session.flush()
            db.session.delete(db.session.get(EtatAcompte, etat_id))
    return status


def status_of(app, piece_id: int) -> str:
    with system(app):
        return db.session.scalar(select(Piece.status).where(Piece.id == piece_id))


def piece(app, piece_id: int) -> Piece:
    with system(app):
        row = db.session.get(Piece, piece_id)
        db.session.expunge(row)
        return row


def rows(app, model, *where, order_by=None) -> list:
    with system(app):
        found = db.session.scalars(select(model).where(*where).order_by(order_by or model.id)).all()
        for row in found:
            db.session.expunge(row)
        return found


def mails(app, *where) -> list:
    """The e-mails queued (detached), each rendered as its job renders it (`operations.mail.rendered`): a queued
    e-mail keeps its template and context until the mail worker sends it."""
    from chorus_chain.models import MailMessage
    from chorus_chain.operations.mail import rendered

    with system(app):
        found = db.session.scalars(select(MailMessage).where(*where).order_by(MailMessage.id)).all()
        for row in found:
            rendered(row)
            db.session.expunge(row)
        return found


def count(app, model, *where) -> int:
    with system(app):
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def later(days: float) -> datetime:
    return NOW + timedelta(days=days)


def service(app, structure_id: int, code: str) -> Service:
    with app.app_context():
        return db.session.scalar(select(Service).where(Service.structure_id == structure_id, Service.code == code))


def board_differences(app):
    """The dashboards' read model against a recompute from the pieces (issue 20), changing nothing: all zero when
    every operation so far kept it in its own transaction."""
    from chorus_chain.operations import board

    with app.test_request_context():
        found = board.recompute(check=True)
        db.session.rollback()
    return found


def assert_board_exact(app) -> None:
    found = board_differences(app)
    assert (found.missing, found.extra, found.different, found.buckets_different) == (0, 0, 0, 0), found
    assert found.coarse_different and not any(found.coarse_different.values()), found  # each coarser rollup too


def settle_clocks(app) -> datetime:
    """Sweep until no clock is left open (the earlier tests' chains of clocks, on a live application's database);
    returns an instant after them all, from which a test's pieces start."""
    from chorus_chain.operations.deadlines import sweep

    last = NOW
    with app.app_context():
        while True:
            with access.system_access("test: the open clocks"):
                top = db.session.scalar(select(func.max(Deadline.due_at)).where(Deadline.done_at.is_(None)))
            db.session.commit()
            if top is None:
                return last + timedelta(days=1)
            last = max(last, top)
            sweep(last)
            db.session.commit()
