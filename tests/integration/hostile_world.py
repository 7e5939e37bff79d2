"""The world of the hostile-client suites for writes and for the API (issue 13): the demo (seeded as `flask demo`
does) and a second marché of its own (tests/integration/pieces_world) whose mandataire is the outsider, so that every
demo company has marchés, parties, pieces, files, price lines, an état, bank accounts, services, members, tickets,
documents, API clients and webhook subscriptions that are not its own. What belongs to whom is read from the rows (emitter or access row
for a piece; the structure's column for the others; the parties of a marché), independently of the routes under
test. Built on a live database (real commits): see test_hostile_writes.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from sqlalchemy import select

from chorus_chain import demo
from chorus_chain.extensions import db
from chorus_chain.models import (
    Account,
    ApiClient,
    BankAccount,
    GeneratedDocument,
    Marche,
    MarcheParty,
    Piece,
    PieceAccess,
    PieceFile,
    Rattachement,
    Service,
    Structure,
    Ticket,
    WebhookSubscription,
)
from chorus_chain.models.money import EtatAcompte, PriceLine
from chorus_chain.operations import etats_acompte as etat_ops
from tests.conftest import ensure_demo
from tests.integration import api_world
from tests.integration import pieces_world as pw
from tests.integration.etats_world import as_moe, price_line


@dataclass
class Objects:
    """Every object of the two marchés, with whom it belongs to (structure ids)."""
    siret_of: dict[str, str]  # identity → its SIRET (the demo companies and the outsider)
    structure_of: dict[str, int]
    accounts: dict[str, SimpleNamespace]  # identity → its gestionnaire (id, email)
    seen_by: dict[int, set[int]]  # structure → the pieces it sees
    pieces: list[int]
    files: list[tuple[int, int]]  # (piece id, file id)
    marches_of: dict[int, set[int]]  # structure → the marchés it is a party of
    by_marche: dict[str, dict[int, int]]  # pool → {id: marché id} (parties, états, price lines)
    by_structure: dict[str, dict[int, int]]  # pool → {id: structure id} (bank accounts, services, members, …)
    members_of: dict[int, set[int]]  # structure → the accounts attached to it
    marches: list[int] = field(default_factory=list)
    api_clients: dict[str, tuple[str, str]] = field(default_factory=dict)  # identity → (client id, secret)


def build_objects(app) -> Objects:
    """The demo (seeded if the database does not hold it yet) and the second marché (committed), and whose each
    object is."""
    with app.app_context():
        ensure_demo()  # the suites' live database is a copy of the seeded demo (`demo_template`)
    w = pw.world(app)
    pw.deposit(app, w, w.mandataire, "A4", "PDM-1", ht="1000.00")
    pw.create(app, w, w.st1, "A10", "PDM-ST1", ht="500.00")  # a draft, with its file
    price_line(app, w, "L1", w.st1.party_id, quantity="10", unit_price="100.00")
    as_moe(app, w, lambda access, account, structure: etat_ops.open_etat(access, account, structure, "2026-02",
                                                                         now=pw.NOW))
    with app.test_request_context():
        from chorus_chain.access import system_access
        from chorus_chain.operations import support, webhooks

        with system_access("test: the objects of the hostile-write suite"):
            s = db.session
            structures = {c.key: s.scalar(select(Structure).where(Structure.siret == c.siret))
                          for c in demo.COMPANIES}
            structures["outsider"] = s.get(Structure, w.mandataire.structure_id)
            accounts = {key: s.get(Account, st.gestionnaire_id) for key, st in structures.items()}
            for key, st in structures.items():  # a ticket, a document and an API client of each: ids with an owner
                support.open_ticket(st, accounts[key], f"Question de {st.name}", "Bonjour")
                s.add(GeneratedDocument(structure_id=st.id, marche_id=None, kind="fiche", content_key=f"{key:0<64}",
                                        filename="fiche.pdf", content_type="application/pdf"))
            s.commit()
            api_clients = {}
            for key, st in structures.items():  # an API client of each, with a webhook subscription
                api_clients[key] = api_world.new_client(app, st.id, accounts[key].id, name=f"Logiciel {key}")
                webhooks.subscribe(s.scalar(select(ApiClient).where(ApiClient.client_id == api_clients[key][0])), st,
                                   accounts[key], {"url": f"http://127.0.0.1:9/{key}"}, now=pw.NOW)
            s.commit()
            seen_by: dict[int, set[int]] = {}
            for piece_id, emitter in s.execute(select(Piece.id, Piece.emitter_structure_id)):
                seen_by.setdefault(emitter, set()).add(piece_id)
            for piece_id, structure_id in s.execute(select(PieceAccess.piece_id, PieceAccess.structure_id)):
                seen_by.setdefault(structure_id, set()).add(piece_id)
            marches_of: dict[int, set[int]] = {}
            for marche_id, structure_id in s.execute(select(MarcheParty.marche_id, MarcheParty.structure_id)):
                marches_of.setdefault(structure_id, set()).add(marche_id)
            for marche_id, creator in s.execute(select(Marche.id, Marche.created_by_id)):
                marches_of.setdefault(creator, set()).add(marche_id)
            members_of: dict[int, set[int]] = {}
            for account_id, structure_id in s.execute(select(Rattachement.account_id, Rattachement.structure_id)):
                members_of.setdefault(structure_id, set()).add(account_id)
            by_marche = {
                "party_id": dict(s.execute(select(MarcheParty.id, MarcheParty.marche_id)).all()),
                "etat_id": dict(s.execute(select(EtatAcompte.id, EtatAcompte.marche_id)).all()),
                "line_id": dict(s.execute(select(PriceLine.id, PriceLine.marche_id)).all()),
            }
            by_structure = {
                "bank_account_id": dict(s.execute(select(BankAccount.id, BankAccount.structure_id)).all()),
                "service_id": dict(s.execute(select(Service.id, Service.structure_id)).all()),
                "member_id": dict(s.execute(select(Rattachement.id, Rattachement.structure_id)).all()),
                "rattachement_id": dict(s.execute(select(Rattachement.id, Rattachement.structure_id)).all()),
                "ticket_id": dict(s.execute(select(Ticket.id, Ticket.structure_id)).all()),
                "document_id": dict(s.execute(select(GeneratedDocument.id, GeneratedDocument.structure_id)).all()),
                "api_client_id": dict(s.execute(select(ApiClient.id, ApiClient.structure_id)).all()),
                "subscription_id": dict(s.execute(select(WebhookSubscription.id,
                                                         WebhookSubscription.structure_id)).all()),
            }
            files = [tuple(row) for row in s.execute(select(PieceFile.piece_id, PieceFile.id))]
            accounts = {key: SimpleNamespace(id=a.id, email=a.email) for key, a in accounts.items()}
            return Objects(
                siret_of={key: st.siret for key, st in structures.items()},
                structure_of={key: st.id for key, st in structures.items()},
                accounts=accounts, seen_by=seen_by, pieces=sorted(s.scalars(select(Piece.id))), files=files,
                marches_of=marches_of, by_marche=by_marche, by_structure=by_structure, members_of=members_of,
                marches=sorted(s.scalars(select(Marche.id))), api_clients=api_clients)


def foreign_pools(o: Objects, structure_id: int | None) -> dict[str, list]:
    """For each URL argument, ids of objects the structure has no part in (all of them for None: no structure)."""
    marches = o.marches_of.get(structure_id, set())
    seen = o.seen_by.get(structure_id, set())
    pools = {
        "piece_id": [p for p in o.pieces if p not in seen],
        "marche_id": [m for m in o.marches if m not in marches],
        "account_id": [a.id for a in o.accounts.values() if a.id not in o.members_of.get(structure_id, set())],
    }
    for name, owners in o.by_marche.items():
        pools[name] = [i for i, marche in owners.items() if marche not in marches]
    for name, owners in o.by_structure.items():
        pools[name] = [i for i, owner in owners.items() if owner != structure_id]
    return pools
