"""Demo data: the companies of the demo marché DEMO-TRAVAUX-2026 and their people. Idempotent."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.models import Account, BankAccount, Marche, MarcheEvent, MarcheParty, Rattachement, Service, Structure
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
                "petite sous-traitante rang 1, moins de 600 € TTC (payée par le mandataire)"),
]

# A second person in the mandataire's company, with rights to follow works invoices only.
EXTRA_MEMBERS = [
    ("mandataire", "compta.durand@demo.chorus-chain.fr", "Marc", "Lefèvre",
     {"emises": "consultation", "travaux": "modification", "recues": "consultation", "organisation": "none"}),
]


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
                postal_code=company.postal_code, city=company.city, vat_number=None, size_class=company.size_class)
            if company.iban:
                db.session.add(BankAccount(structure_id=structure.id, label="Compte principal", iban=company.iban,
                                           bic=company.bic, is_default=True))
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
    seed_marche(structures)
    return structures


# --- The demo marché ---------------------------------------------------------------------------------------------
# Works, groupement conjoint, 1 200 000,00 € HT at 20 % = 1 440 000,00 € TTC: the mandataire Durand holds
# 1 008 000,00 € TTC (840 000 € HT), the co-traitant Martin 432 000,00 € TTC (360 000 € HT). Price revision on BT01
# from January 2025 (mois zéro), so that the index table of ../shared/domain/data covers the works' months.

DEMO_MARCHE = "DEMO-TRAVAUX-2026"
_DEMO_CREATED = datetime(2025, 1, 20, 9, 0, tzinfo=timezone.utc)
_DEMO_TERMS = dict(
    objet="Réhabilitation et extension du groupe scolaire Jules-Ferry", kind="travaux",
    moa_service_code="TECH", engagement_number="EJ-2025-000418", paying_service_code="FIN",
    montant_ht=Decimal("1200000.00"), tva_rate=Decimal("20.00"), dgp_days=30, moe_days=7,
    retenue_rate=Decimal("5.00"), retenue_replaced_by_guarantee=False, avance_rate=Decimal("5.00"),
    price_form="revisable", revision_a=Decimal("0.1250"), revision_index="BT01", revision_base_month="2025-01",
    ccag_version="2021", groupement="conjoint", cotraitance_circuit="each",
)
# (company key, role, contractor's company key, montant TTC, DC4: nature, IBAN, BIC, received, accepted)
_DEMO_PARTIES = [
    ("moa", "moa", None, None, None),
    ("moa", "paying_office", None, None, None),
    ("moe", "moe", None, None, None),
    ("mandataire", "mandataire", None, "1008000.00", None),
    ("cotraitant", "cotraitant", "mandataire", "432000.00", None),
    ("st_platrerie", "sous_traitant", "mandataire", "96000.00",
     ("Plâtrerie, cloisons et faux plafonds", None, None, date(2025, 2, 3), date(2025, 2, 10))),
    ("st_menuiserie", "sous_traitant", "cotraitant", "54000.00",
     ("Menuiseries intérieures bois", "FR7610278360110002134560171", "CMCIFR2A", date(2025, 2, 5), date(2025, 2, 14))),
    ("st_peinture", "sous_traitant", "st_platrerie", "18000.00",
     ("Peinture des cloisons et plafonds", "FR7616606100120004567891245", "AGRIFRPP866", date(2025, 3, 3),
      date(2025, 3, 11))),
    ("st_nettoyage", "sous_traitant", "mandataire", "480.00",
     ("Nettoyage de fin de chantier", None, None, date(2025, 3, 17), date(2025, 3, 20))),
]
_DEMO_PAYMENT_TERMS = ("Paiement à 30 jours ; prix révisables selon la formule du marché (BT01, mois zéro janvier "
                       "2025) ; avance de 5 % sur demande.")


def seed_marche(structures: dict[str, Structure]) -> Marche:
    """Marché DEMO-TRAVAUX-2026 with its whole chain, every role confirmed and every DC4 accepted. Idempotent: an
    existing marché of that reference is left as it is."""
    marche = db.session.scalar(select(Marche).where(Marche.reference == DEMO_MARCHE))
    if marche is not None:
        return marche
    moa = structures["moa"]
    marche = Marche(reference=DEMO_MARCHE, created_by_id=moa.id, created_at=_DEMO_CREATED, version=1, **_DEMO_TERMS)
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
            invited_at=_DEMO_CREATED, decided_at=_DEMO_CREATED, decided_by_id=structure.gestionnaire_id,
            created_at=_DEMO_CREATED)
        if dc4 is not None:
            nature, iban, bic, received, accepted = dc4
            row.dc4_nature, row.dc4_payment_terms = nature, _DEMO_PAYMENT_TERMS
            row.iban, row.bic = iban or company.iban, bic or company.bic
            row.dc4_received_at, row.dc4_status, row.accepted_on = received, "accepted", accepted
        db.session.add(row)
        db.session.flush()
        rows[key if role != "paying_office" else "paying_office"] = row
    chain_ops.chain_of(marche)  # raises if the demo broke a rule of the chain
    db.session.add(MarcheEvent(marche_id=marche.id, at=_DEMO_CREATED, structure_id=moa.id, kind="marche.created",
                               detail={"reference": DEMO_MARCHE, "demo": True}))
    db.session.flush()
    return marche


def logins() -> list[tuple[str, str, str]]:
    rows = [(c.email, c.name, c.what) for c in COMPANIES]
    rows += [(email, dict((c.key, c.name) for c in COMPANIES)[key], "utilisateur : factures de travaux seulement")
             for key, email, *_ in EXTRA_MEMBERS]
    return rows
