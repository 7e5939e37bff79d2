"""Demo data: the companies of the demo marché DEMO-TRAVAUX-2026, their people, and its pieces in every interesting
state (driven through the operations, at instants in the past relative to the seeding). Idempotent."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from chorus_chain.domain.money import month_fr
from chorus_chain.extensions import db
from chorus_chain.models import (
    Account,
    BankAccount,
    Marche,
    MarcheEvent,
    MarcheParty,
    Piece,
    Rattachement,
    Service,
    Structure,
)
from chorus_chain.models.base import utcnow
from chorus_chain.operations import chain as chain_ops
from chorus_chain.operations import structures as structure_ops

DEMO_PASSWORD = "demo-chorus-2026"


@dataclass(frozen=True)
class DemoCompany:
    key: str
    siret: str
    name: str
    is_public: bool
    city: str
    postal_code: str
    size_class: str
    email: str
    first_name: str
    last_name: str
    what: str  # shown in README and on the console
    iban: str | None = None
    bic: str | None = None


COMPANIES = [
    DemoCompany("moa", "21755260300011", "Commune de Montreuil-sur-Loire", True, "Montreuil-sur-Loire", "49100",
                "ge", "mairie@demo.chorus-chain.fr", "Claire", "Fontaine",
                "maître d'ouvrage (et son service financier)"),
    DemoCompany("moe", "32101815200017", "Atelier Lumen Architectes", False, "Angers", "49000", "micro",
                "moe@demo.chorus-chain.fr", "Julien", "Morel", "maître d'œuvre",
                "FR7630004000031234567890143", "BNPAFRPPXXX"),
    DemoCompany("mandataire", "40229083700010", "Durand Bâtiment SAS", False, "Angers", "49000", "pme",
                "durand@demo.chorus-chain.fr", "Sophie", "Durand", "mandataire du groupement (gros œuvre)",
                "FR7630006000011234567890189", "AGRIFRPPXXX"),
    DemoCompany("cotraitant", "41000166300013", "Martin Électricité SARL", False, "Saumur", "49400", "pme",
                "martin@demo.chorus-chain.fr", "Karim", "Martin", "co-traitant (électricité)",
                "FR1420041010050500013M02606", "PSSTFRPPXXX"),
    DemoCompany("st_platrerie", "51201318600014", "Plâtrerie Leroy", False, "Cholet", "49300", "micro",
                "leroy@demo.chorus-chain.fr", "Nathalie", "Leroy",
                "sous-traitante rang 1 du mandataire (paiement direct, autoliquidation)",
                "FR7610107001011234567890129", "BREDFRPPXXX"),
    DemoCompany("st_menuiserie", "52306091100014", "Menuiserie Bernard", False, "Trélazé", "49800", "micro",
                "bernard@demo.chorus-chain.fr", "Thomas", "Bernard",
                "sous-traitante rang 1 du co-traitant (paiement direct)"),
    DemoCompany("st_peinture", "53403909400014", "Peinture Petit & Fils", False, "Cholet", "49300", "micro",
                "petit@demo.chorus-chain.fr", "Léa", "Petit", "sous-traitante rang 2 (sous la plâtrerie)"),
    DemoCompany("st_nettoyage", "54509603400016", "Nettoyage Moreau", False, "Angers", "49000", "micro",
                "moreau@demo.chorus-chain.fr", "Paul", "Moreau",
                "petite sous-traitante rang 1, moins de 600 € TTC (payée par le mandataire)",
                "FR7630003012340001234567854", "SOGEFRPPXXX"),
]

# The legal identity the companies print under their name (C. com. R. 123-237): form, share capital, registration.
# The commune has its form only: a public body is not registered and its documents print none of it.
LEGAL_IDENTITIES = {
    "moa": ("Collectivité territoriale", None, None),
    "moe": ("SARL d'architecture", Decimal("8000"), "RCS Angers 321 018 152"),
    "mandataire": ("SAS", Decimal("120000"), "RCS Angers 402 290 837"),
    "cotraitant": ("SARL", Decimal("30000"), "RCS Angers 410 001 663"),
    "st_platrerie": ("EURL", Decimal("5000"), "RCS Angers 512 013 186"),
    "st_menuiserie": ("EI", None, "523 060 911 RM 49"),
    "st_peinture": ("SARL", Decimal("10000"), "RCS Angers 534 039 094"),
    "st_nettoyage": ("EI", None, "RCS Angers 545 096 034"),
}

# A second person in the mandataire's company, with rights to follow works invoices only.
EXTRA_MEMBERS = [
    ("mandataire", "compta.durand@demo.chorus-chain.fr", "Marc", "Lefèvre",
     {"emises": "consultation", "travaux": "modification", "recues": "consultation", "organisation": "none"}),
]


def demo_vat_number(company: DemoCompany) -> str | None:
    """A company's intra-community VAT number, from its SIREN (FR + key + SIREN, key = (12 + 3 × (SIREN mod 97))
    mod 97): every invoice prints it and Factur-X carries it (BT-31). The commune invoices nothing."""
    if company.is_public:
        return None
    siren = int(company.siret[:9])
    return f"FR{(12 + 3 * (siren % 97)) % 97:02d}{company.siret[:9]}"


def _account(email: str, first_name: str, last_name: str) -> Account:
    account = db.session.scalar(select(Account).where(Account.email == email))
    if account is None:
        account = Account(email=email, first_name=first_name, last_name=last_name, activated_at=utcnow())
        account.set_password(DEMO_PASSWORD)
        db.session.add(account)
        db.session.flush()
    return account


def seed() -> dict[str, Structure]:
    """Create what is missing; never duplicate. Returns the structures by key."""
    structures = {}
    for company in COMPANIES:
        account = _account(company.email, company.first_name, company.last_name)
        structure = db.session.scalar(select(Structure).where(Structure.siret == company.siret))
        if structure is None:
            structure = structure_ops.create_structure(
                account, siret=company.siret, name=company.name, is_public=company.is_public,
                address_line="1 place de la Mairie" if company.is_public else "12 rue des Artisans",
                postal_code=company.postal_code, city=company.city, vat_number=demo_vat_number(company),
                size_class=company.size_class)
            if company.iban:
                db.session.add(BankAccount(structure_id=structure.id, label="Compte principal", iban=company.iban,
                                           bic=company.bic, is_default=True))
        if structure.vat_number is None and demo_vat_number(company):  # a demo seeded before it had them
            structure.vat_number = demo_vat_number(company)
        if structure.legal_form is None and company.key in LEGAL_IDENTITIES:  # never over a gestionnaire's edit
            structure.legal_form, structure.share_capital, structure.registration = LEGAL_IDENTITIES[company.key]
        structures[company.key] = structure
    moa = structures["moa"]
    if moa.routing_requirement != "code_service":
        moa.routing_requirement = "code_service"
    for code, name in (("TECH", "Services techniques"), ("FIN", "Service financier")):
        if db.session.scalar(select(Service).where(Service.structure_id == moa.id, Service.code == code)) is None:
            db.session.add(Service(structure_id=moa.id, code=code, name=name, engagement_required=code == "FIN"))
    for key, email, first, last, rights in EXTRA_MEMBERS:
        account = _account(email, first, last)
        structure = structures[key]
        if db.session.scalar(select(Rattachement).where(Rattachement.account_id == account.id,
                                                        Rattachement.structure_id == structure.id)) is None:
            db.session.add(Rattachement(account_id=account.id, structure_id=structure.id, status="approved",
                                        decided_at=utcnow(), decided_by_id=structure.gestionnaire_id,
                                        **{f"right_{d}": lvl for d, lvl in rights.items()}))
    db.session.flush()
    # Every date of the demo follows the day it is seeded, so that its story (a contest window open, a payment late,
    # a tacit validation in two days) is true on any day; one instant for the whole seeding.
    now = utcnow().replace(second=0, microsecond=0)
    marche = seed_marche(structures, now)
    seed_pieces(structures, marche, now)
    from chorus_chain.demo_money import seed_money
    from chorus_chain.operations.notifications import without_email

    with without_email():
        seed_money(structures, marche, now)
    # The reminders the story's running clocks have already earned (3 days, then 1 day before their end): sent by the
    # seeding, as the clock would have sent them, so that a sweep right after it changes nothing.
    from chorus_chain.operations.deadlines import remind

    remind(now)
    return structures


# --- The demo marché ---------------------------------------------------------------------------------------------
# Works, groupement conjoint, 1 200 000,00 € HT at 20 % = 1 440 000,00 € TTC: the mandataire Durand holds
# 1 008 000,00 € TTC (840 000 € HT), the co-traitant Martin 432 000,00 € TTC (360 000 € HT). Price revision on BT01
# from the month the marché was created (mois zéro), capped at the last month the index table of chorus_chain/data
# publishes: the works months after it are entered as provisional values, as a real MOE does.
# Dates follow the seeding day: the marché is created CREATED_DAYS_AGO days before it, each DC4 some days after that.

DEMO_MARCHE = "DEMO-TRAVAUX-2026"
CREATED_DAYS_AGO = 150
_DEMO_TERMS = dict(
    objet="Réhabilitation et extension du groupe scolaire Jules-Ferry", kind="travaux",
    moa_service_code="TECH", engagement_number="EJ-2025-000418", paying_service_code="FIN",
    montant_ht=Decimal("1200000.00"), tva_rate=Decimal("20.00"), dgp_days=30, moe_days=7,
    retenue_rate=Decimal("5.00"), retenue_replaced_by_guarantee=False, avance_rate=Decimal("5.00"),
    price_form="revisable", revision_a=Decimal("0.1250"), revision_index="BT01",
    ccag_version="2021", groupement="conjoint", cotraitance_circuit="each",
)
# (company key, role, contractor's company key, montant TTC, DC4: nature, IBAN, BIC, received and accepted: days after
# the marché's creation)
_DEMO_PARTIES = [
    ("moa", "moa", None, None, None),
    ("moa", "paying_office", None, None, None),
    ("moe", "moe", None, None, None),
    ("mandataire", "mandataire", None, "1008000.00", None),
    ("cotraitant", "cotraitant", "mandataire", "432000.00", None),
    ("st_platrerie", "sous_traitant", "mandataire", "96000.00",
     ("Plâtrerie, cloisons et faux plafonds", None, None, 14, 21)),
    ("st_menuiserie", "sous_traitant", "cotraitant", "54000.00",
     ("Menuiseries intérieures bois", "FR7610278360110002134560171", "CMCIFR2A", 16, 25)),
    ("st_peinture", "sous_traitant", "st_platrerie", "18000.00",
     ("Peinture des cloisons et plafonds", "FR7616606100120004567891245", "AGRIFRPP866", 42, 50)),
    ("st_nettoyage", "sous_traitant", "mandataire", "480.00",
     ("Nettoyage de fin de chantier", None, None, 56, 59)),
]
_DEMO_PAYMENT_TERMS = ("Paiement à 30 jours ; prix révisables selon la formule du marché (BT01, mois zéro {base}) ; "
                       "avance de 5 % sur demande.")


def demo_created(now: datetime) -> datetime:
    """The instant the demo marché was created: CREATED_DAYS_AGO days before the seeding, at 09:00 UTC."""
    return (now - timedelta(days=CREATED_DAYS_AGO)).replace(hour=9, minute=0, second=0, microsecond=0)


def revision_base_month(created: datetime) -> str:
    """Mois zéro: the month the marché was created, or the last month the BT01 table publishes if that is earlier
    (the demo never invents a definitive index value)."""
    from chorus_chain.demo_money import published_bt01

    return min(f"{created.year:04d}-{created.month:02d}", max(published_bt01()))


def seed_marche(structures: dict[str, Structure], now: datetime | None = None) -> Marche:
    """Marché DEMO-TRAVAUX-2026 with its whole chain, every role confirmed and every DC4 accepted, created
    CREATED_DAYS_AGO days before `now` (the seeding). Idempotent: an existing marché of that reference is left as it
    is."""
    marche = db.session.scalar(select(Marche).where(Marche.reference == DEMO_MARCHE))
    if marche is not None:
        return marche
    created = demo_created(now or utcnow())
    base_month = revision_base_month(created)
    moa = structures["moa"]
    marche = Marche(reference=DEMO_MARCHE, created_by_id=moa.id, created_at=created, version=1,
                    revision_base_month=base_month, **_DEMO_TERMS)
    db.session.add(marche)
    db.session.flush()
    rows: dict[str, MarcheParty] = {}
    for key, role, parent_key, montant, dc4 in _DEMO_PARTIES:
        structure = structures[key]
        company = next(c for c in COMPANIES if c.key == key)
        row = MarcheParty(
            marche_id=marche.id, structure_id=structure.id, siret=structure.siret, name=structure.name, role=role,
            parent_id=rows[parent_key].id if parent_key else None,
            montant_ttc=Decimal(montant) if montant else None, status="confirmed",
            service_code="FIN" if role == "paying_office" else None, invited_by_id=moa.id,
            invited_at=created, decided_at=created, decided_by_id=structure.gestionnaire_id,
            created_at=created)
        if dc4 is not None:
            nature, iban, bic, received, accepted = dc4
            row.dc4_nature = nature
            row.dc4_payment_terms = _DEMO_PAYMENT_TERMS.format(base=month_fr(base_month))
            row.iban, row.bic = iban or company.iban, bic or company.bic
            row.dc4_received_at = (created + timedelta(days=received)).date()
            row.dc4_status, row.accepted_on = "accepted", (created + timedelta(days=accepted)).date()
        db.session.add(row)
        db.session.flush()
        rows[key if role != "paying_office" else "paying_office"] = row
    chain_ops.chain_of(marche)  # raises if the demo broke a rule of the chain
    db.session.add(MarcheEvent(marche_id=marche.id, at=created, structure_id=moa.id, kind="marche.created",
                               detail={"reference": DEMO_MARCHE, "demo": True}))
    db.session.flush()
    return marche


def logins() -> list[tuple[str, str, str]]:
    rows = [(c.email, c.name, c.what) for c in COMPANIES]
    rows += [(email, dict((c.key, c.name) for c in COMPANIES)[key], "utilisateur : factures de travaux seulement")
             for key, email, *_ in EXTRA_MEMBERS]
    return rows


# --- The demo pieces ------------------------------------------------------------------------------------------------
# Each scenario is driven through the operations (create_draft, deposit, act, the sweep's handler for an expired
# clock) at instants in the past, relative to the seeding, so that events, clocks and notifications are those the
# transition table gives and the pending clocks are still running: "near its deadline" stays near. A scenario whose
# number its emitter already used is skipped (idempotent).

DEMO_PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


@dataclass(frozen=True)
class DemoPiece:
    """A scenario: who deposits (company key, role), the cadre, its number, how many days ago it was deposited, and
    then the steps: (days ago, company key, action, inputs) or (days ago, "expire", clock kind).

    A works piece (a projet de décompte) is entered as its emitter enters it, from its décompte: `month` is the works
    month it covers (n of demo_money's months: 3 is the month of état n° 3) and `cumul` its cumul to date per price
    line reference (a quantity, or a % for a lump sum; a line left out keeps last month's cumul); its amounts are the
    engine's (demo_money seeds it at its place among the months). A private invoice has no décompte: `ht` is its
    amount HT."""

    key: str
    role: str
    cadre: str | None
    number: str
    deposited_days_ago: float
    steps: tuple = ()
    what: str = ""
    ht: str | None = None
    month: int | None = None
    cumul: tuple[tuple[str, str], ...] = ()

    @property
    def is_works(self) -> bool:
        return self.month is not None


# The demo's projets de décompte that reach the MOA and the paying office are those of demo_money's three months,
# each inside a real état d'acompte (A15 → A19 → payment per line): a PDM never travels alone (issue 12). The works
# pieces here stop before the MOE's état — at a validator's, at the MOE's, refused: Leroy's and Bernard's décomptes of
# month 3 (still on their way when the MOE issued état n° 3), Martin's first décompte of month 3 (refused; Martin
# deposited another one, ME-PDM-03, which is in état n° 3), Leroy's and Durand's décomptes of month 4. The others are
# private invoices.
DEMO_PIECES = [
    DemoPiece("st_platrerie", "sous_traitant", "A10", "PL-2026-001", 20, ((5, "expire", "validation_1"),),
              "validée tacitement (donneur d'ordre silencieux 15 jours), chez le maître d'œuvre depuis 5 jours",
              month=3, cumul=(("PL-01", "800"),)),
    DemoPiece("st_platrerie", "sous_traitant", "A10", "PL-2026-002", 13, (),
              "à valider par le mandataire, validation tacite dans 2 jours",
              month=4, cumul=(("PL-01", "1000"), ("PL-02", "150"))),
    DemoPiece("cotraitant", "cotraitant", "A13", "ME-2026-001", 12,
              ((10, "mandataire", "refuse", {"reason": "non_conforme",
                                             "comment": "Tableau électrique du bâtiment B non réceptionné."}),),
              "refusée par le mandataire (motif indiqué)",
              month=3, cumul=(("EL-01", "35"),)),
    DemoPiece("mandataire", "mandataire", "A4", "DB-2026-004", 2, (),
              "chez le maître d'œuvre, qui a 7 jours pour émettre son état d'acompte",
              month=4, cumul=(("GO-03", "1750"), ("CH-01", "55"))),
    # Martin admits 6 of the 7 blocs-portes claimed: the amount it accepts is the engine's value of the décompte with
    # that line at 6 (the partial validation takes an amount, not lines: the demo computes it as the validator would).
    DemoPiece("st_menuiserie", "sous_traitant", "A10", "MB-2026-001", 9,
              ((7, "cotraitant", "validate_partially", {"admitted": (("MI-01", "6"),),
                                                          "reason": "Lot 06 : 6 blocs-portes posés sur 7 ce mois."}),),
              "validée en partie par le co-traitant, à valider par le mandataire",
              month=3, cumul=(("MI-01", "7"),)),
    DemoPiece("st_peinture", "sous_traitant", None, "PP-2026-001", 6,
              ((4, "st_platrerie", "validate", {}),),
              "facture privée du rang 2 acceptée par la plâtrerie", ht="3000.00"),
    DemoPiece("st_nettoyage", "sous_traitant", None, "NM-2026-001", 50,
              ((47, "mandataire", "validate", {}),),
              "facture privée acceptée par le mandataire, échue et non payée (code de commerce)", ht="400.00"),
]


def _demo_instant(now: datetime, days_ago: float) -> datetime:
    return now - timedelta(days=days_ago)


def _bank_account_of(structure: Structure, party: MarcheParty) -> BankAccount | None:
    """The structure's bank account; a sous-traitant without one gets the account of its DC4."""
    bank = db.session.scalar(select(BankAccount).where(BankAccount.structure_id == structure.id,
                                                       BankAccount.active.is_(True)).order_by(BankAccount.id))
    if bank is None and party.iban:
        bank = BankAccount(structure_id=structure.id, label="Compte du DC4", iban=party.iban, bic=party.bic,
                           is_default=True)
        db.session.add(bank)
        db.session.flush()
    return bank


def seed_pieces(structures: dict[str, Structure], marche: Marche, now: datetime | None = None) -> int:
    """The demo marché's private invoices (DEMO_PIECES without a décompte: the works pieces are demo_money's, seeded
    after the bordereau), notified in-app only; returns how many were created."""
    from chorus_chain.operations.notifications import without_email

    now = (now or utcnow()).replace(second=0, microsecond=0)
    with without_email():
        created = sum(_seed_piece(structures, marche, scenario, now) for scenario in DEMO_PIECES
                      if not scenario.is_works)
    db.session.flush()
    return created


def _seed_piece(structures: dict[str, Structure], marche: Marche, scenario: DemoPiece, now: datetime) -> int:
    """Deposit one scenario's piece as its emitter, then play its steps; 0 when its number is already used."""
    from chorus_chain.access import tenant
    from chorus_chain.operations import pieces as piece_ops

    structure = structures[scenario.key]
    party = db.session.scalar(select(MarcheParty).where(
        MarcheParty.marche_id == marche.id, MarcheParty.structure_id == structure.id,
        MarcheParty.role == scenario.role))
    with tenant(structure.id):
        if db.session.scalar(select(Piece.id).where(Piece.emitter_structure_id == structure.id,
                                                    Piece.number_key == scenario.number.upper())) is not None:
            return 0
        at = _demo_instant(now, scenario.deposited_days_ago)
        account = db.session.get(Account, structure.gestionnaire_id)
        form = piece_ops.draft_defaults(structure, marche.id, party.id, scenario.cadre)
        ht = Decimal(scenario.ht)
        tva = Decimal("0.00") if form["vat_regime"] == "autoliquidation" else ht * marche.tva_rate / 100
        bank = _bank_account_of(structure, party)
        form.update(number=scenario.number, issue_date=at.date().replace(day=1).isoformat(),
                    montant_ht=f"{ht:.2f}", montant_tva=f"{tva:.2f}", montant_ttc=f"{ht + tva:.2f}",
                    bank_account_id=bank.id if bank else None)
        piece = piece_ops.create_draft(
            account, structure, marche.id, form,
            main_file=piece_ops.UploadedFile(f"{scenario.number}.pdf", DEMO_PDF + scenario.number.encode()),
            now=at)
        piece_ops.deposit(piece.id, account, structure, now=at)
        piece_id = piece.id
    for step in scenario.steps:
        _demo_step(structures, piece_id, now, step)
    return 1


def _demo_step(structures: dict[str, Structure], piece_id: int, now: datetime, step: tuple) -> None:
    from chorus_chain.access import system_access, tenant
    from chorus_chain.models import Deadline
    from chorus_chain.operations import pieces as piece_ops
    from chorus_chain.operations.pieces_deadlines import apply_piece_deadline

    days_ago, who, *rest = step
    if who == "expire":  # a clock ran out: what the sweep does at its due instant
        with system_access("demo: a clock of the demo marché expires"):
            deadline = db.session.scalar(select(Deadline).where(Deadline.piece_id == piece_id,
                                                                Deadline.kind == rest[0],
                                                                Deadline.done_at.is_(None)))
            apply_piece_deadline(deadline, deadline.due_at, deadline.due_at)
            deadline.done_at = deadline.due_at
            db.session.flush()
        return
    action, inputs = rest
    inputs = dict(inputs)
    at = _demo_instant(now, days_ago)
    structure = structures[who]
    if "paid_days_ago" in inputs:
        inputs["paid_on"] = _demo_instant(now, inputs.pop("paid_days_ago")).date()
    if "admitted" in inputs:  # a partial validation: the engine's amount of the décompte with these lines admitted
        from chorus_chain.operations import decomptes

        with tenant(structure.id):
            inputs["amount"] = decomptes.amount_admitted(db.session.get(Piece, piece_id), dict(inputs.pop("admitted")))
    if "files" in inputs:
        name = inputs.pop("files")
        inputs["files"] = [piece_ops.UploadedFile(name, DEMO_PDF + name.encode())]
    with tenant(structure.id):
        account = db.session.get(Account, structure.gestionnaire_id)
        piece = db.session.scalar(select(Piece).where(Piece.id == piece_id))
        piece_ops.act(piece_id, account, structure, action, expected_status=piece.status, now=at, **inputs)
