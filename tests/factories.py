"""Builders for test data. Each opens its own short app context and commits (a savepoint in the test's transaction),
so no test holds a context — and a session — across the requests it makes."""
from __future__ import annotations

import functools
import itertools


from stdnum import luhn

from chorus_chain.domain import rights as rights_rules
from chorus_chain.extensions import db
from chorus_chain.models import Account, BankAccount, Rattachement, Service, Structure
from chorus_chain.models.base import utcnow

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


def valid_siret(n: int | None = None) -> str:
    """A SIRET with valid Luhn keys (SIREN and SIRET), distinct for each call."""
    n = next(_counter) if n is None else n
    siren_base = f"8{n:07d}"
    siren = siren_base + luhn.calc_check_digit(siren_base)
    base = siren + "0001"
    return base + luhn.calc_check_digit(base)


def _in_context(fn):
    def wrapper(app, *args, **kwargs):
        with app.app_context():
            result = fn(*args, **kwargs)
            db.session.commit()
            ident = result.id
        # A fresh detached handle: the caller reads ids and simple columns only.
        with app.app_context():
            obj = db.session.get(type(result), ident)
            db.session.expunge(obj)
            return obj

    return wrapper


@_in_context
def account(email: str | None = None, password: str = PASSWORD, active: bool = True, **fields) -> Account:
    email = email or f"user{next(_counter)}@example.fr"
    acc = Account(email=email, first_name=fields.pop("first_name", "Camille"),
                  last_name=fields.pop("last_name", "Test"), activated_at=utcnow() if active else None, **fields)
    acc.set_password(password)
    db.session.add(acc)
    db.session.flush()
    return acc


@_in_context
def structure(owner: Account, name: str | None = None, siret: str | None = None, **fields) -> Structure:
    from chorus_chain.operations.structures import create_structure

    owner = db.session.get(Account, owner.id)
    return create_structure(owner, siret=siret or valid_siret(), name=name or f"Entreprise {next(_counter)}",
                            is_public=fields.pop("is_public", False), address_line="1 rue du Test",
                            postal_code="75001", city="Paris", vat_number=None,
                            size_class=fields.pop("size_class", "pme"))


@_in_context
def member(structure: Structure, account: Account, status: str = "approved", **rights) -> Rattachement:
    levels = dict(rights_rules.DEFAULT_MEMBER_RIGHTS)
    levels.update(rights)
    row = Rattachement(account_id=account.id, structure_id=structure.id, status=status,
                       decided_at=utcnow() if status != "pending" else None,
                       **{f"right_{d}": lvl for d, lvl in levels.items()})
    db.session.add(row)
    db.session.flush()
    return row


@_in_context
def service(structure: Structure, code: str = "SERV1", name: str = "Service technique", **fields) -> Service:
    row = Service(structure_id=structure.id, code=code, name=name, **fields)
    db.session.add(row)
    db.session.flush()
    return row


@_in_context
def bank_account(structure: Structure, iban: str = "FR7630006000011234567890189", bic: str = "AGRIFRPPXXX",
                 label: str = "Compte courant", **fields) -> BankAccount:
    row = BankAccount(structure_id=structure.id, iban=iban, bic=bic, label=label, **fields)
    db.session.add(row)
    db.session.flush()
    return row


def member_client(app, structure: Structure, **rights):
    """A test client logged in as a new member of `structure` (a detached handle) holding these rights."""
    reader = quick_account(app)
    member(app, structure, reader, **rights)
    client = app.test_client()
    login(client, reader)
    return client


def login(client, account: Account, password: str = PASSWORD):
    response = client.post("/connexion", data={"email": account.email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def outbox(app) -> list:
    """Every e-mail queued so far in this test, newest last."""
    from chorus_chain.models import MailMessage
    from chorus_chain.operations.mail import rendered

    with app.app_context():
        mails = db.session.scalars(db.select(MailMessage).order_by(MailMessage.id)).all()
        for m in mails:
            rendered(m)  # a queued e-mail not sent yet: rendered as its job will
            db.session.expunge(m)
        return mails


# --- The organisation area (a structure with a member of every kind) ------------------------------------------------

@functools.lru_cache(maxsize=1)
def _password_hash() -> str:
    account_ = Account(email="x@example.fr", first_name="", last_name="")
    account_.set_password(PASSWORD)
    return account_.password_hash


@_in_context
def quick_account(**fields) -> Account:
    """As `account`, with PASSWORD, reusing one hash: scrypt costs 0.1 s a call and `team` makes nine accounts."""
    acc = Account(email=fields.pop("email", None) or f"user{next(_counter)}@example.fr",
                  first_name=fields.pop("first_name", "Camille"), last_name=fields.pop("last_name", "Test"),
                  activated_at=utcnow(), password_hash=_password_hash(), **fields)
    db.session.add(acc)
    db.session.flush()
    return acc


def team(app) -> "SimpleNamespace":
    """A structure with its gestionnaire principal (gp) and members: admin (organisation modification), viewer
    (organisation consultation), colleague (default rights), powerless (no right), a pending applicant; and a
    neighbour structure with a member, a service and a bank account, for the cross-structure 404s."""
    from types import SimpleNamespace

    gp = quick_account(app, first_name="Gaëlle", last_name="Gérante")
    home = structure(app, gp, name="Durand Bâtiment")
    t = SimpleNamespace(gp=gp, structure=home, siret=home.siret, base=f"/s/{home.siret}")
    for name, rights in {"admin": {"organisation": "modification"}, "viewer": {"organisation": "consultation"},
                         "colleague": {},
                         "powerless": dict.fromkeys(rights_rules.DOMAINS, "none")}.items():
        person = quick_account(app, first_name=name.capitalize(), last_name="Membre")
        setattr(t, name, person)
        setattr(t, f"{name}_member", member(app, home, person, **rights))
    t.applicant = quick_account(app, first_name="Alice", last_name="Candidate")
    t.pending = member(app, home, t.applicant, status="pending")
    neighbour_gp = quick_account(app, first_name="Voisin")
    t.neighbour = structure(app, neighbour_gp, name="Structure voisine")
    t.neighbour_person = quick_account(app)
    t.neighbour_member = member(app, t.neighbour, t.neighbour_person)
    t.neighbour_pending = member(app, t.neighbour, quick_account(app), status="pending")
    t.neighbour_service = service(app, t.neighbour, code="VOISIN")
    t.neighbour_bank = bank_account(app, t.neighbour, is_default=True)
    return t


def stale_login(client) -> None:
    """Age the client's login beyond FRESH_LOGIN_SECONDS: sensitive changes then ask for the password again."""
    with client.session_transaction() as session:
        session["authenticated_at"] = 0


def reload(app, model, ident):
    """The row as the database holds it now (detached), or None."""
    with app.app_context():
        row = db.session.get(model, ident)
        if row is not None:
            db.session.expunge(row)
        return row


def rows(app, model, *where, order_by=None) -> list:
    """Every row of a model matching the conditions (detached), in id order unless told."""
    with app.app_context():
        found = db.session.scalars(db.select(model).where(*where).order_by(order_by or model.id)).all()
        for row in found:
            db.session.expunge(row)
        return found


def events(app, structure: Structure, kind: str | None = None) -> list:
    """The structure's journal, oldest first, optionally of one kind."""
    from chorus_chain.models import StructureEvent

    conditions = [StructureEvent.structure_id == structure.id]
    if kind:
        conditions.append(StructureEvent.kind == kind)
    return rows(app, StructureEvent, *conditions)


def login_with_csrf(client, account: Account, password: str = PASSWORD):
    """Log in while CSRF protection is on (the `csrf` fixture): the token is read from the login page."""
    import re

    page = client.get("/connexion").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/connexion", data={"email": account.email, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


# --- Pièces (bypassing the operations: for tests that need a piece's and a file's ids, e.g. the route walk) -------

MINIMAL_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def piece(app, emitter: Structure, marche_id: int, party_id: int, *, number: str | None = None,
          status: str = "BROUILLON", route: list | None = None, file_name: str = "facture.pdf"):
    """A piece of `emitter` on a marché, with its main PDF: (piece id, file id). Inserted as the system (no tenant),
    without events or access rows: the pages of the emitter find it, nothing else is implied. A status other than
    BROUILLON needs a `route` (the frozen route's dicts)."""
    import hashlib
    from datetime import date
    from decimal import Decimal

    from chorus_chain import access
    from chorus_chain.models import Piece, PieceFile, StoredFile

    number = number or f"F-{next(_counter)}"
    with app.test_request_context(), access.system_access("test data: a piece and its file"):
        now = utcnow()
        sha = hashlib.sha256(MINIMAL_PDF).hexdigest()
        if db.session.scalar(db.select(StoredFile.id).where(StoredFile.sha256 == sha)) is None:
            db.session.add(StoredFile(sha256=sha, size=len(MINIMAL_PDF), content=MINIMAL_PDF))
        row = Piece(marche_id=marche_id, emitter_party_id=party_id, emitter_structure_id=emitter.id, cadre="A4",
                    works=True, piece_type="FACTURE", number=number, number_key=number.upper(), status=status,
                    route=route if status != "BROUILLON" else None, montant_ht=Decimal("1000.00"),
                    montant_tva=Decimal("200.00"), montant_ttc=Decimal("1200.00"), vat_regime="normal",
                    issue_date=date(2026, 1, 5), recipient_siret=emitter.siret, payment_mode="virement",
                    deposited_at=now if status != "BROUILLON" else None, created_by_id=emitter.gestionnaire_id,
                    created_at=now, updated_at=now, main_sha256=sha)
        db.session.add(row)
        db.session.flush()
        stored = PieceFile(piece_id=row.id, role="main", name=file_name, content_type="application/pdf",
                           size=len(MINIMAL_PDF), sha256=sha, added_at=now)
        db.session.add(stored)
        db.session.commit()
        return row.id, stored.id
