"""Demo data: the companies of the demo marché DEMO-TRAVAUX-2026 and their people. Idempotent."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.models import Account, BankAccount, Rattachement, Service, Structure
from chorus_chain.models.base import utcnow
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
    return structures


def logins() -> list[tuple[str, str, str]]:
    rows = [(c.email, c.name, c.what) for c in COMPANIES]
    rows += [(email, dict((c.key, c.name) for c in COMPANIES)[key], "utilisateur : factures de travaux seulement")
             for key, email, *_ in EXTRA_MEMBERS]
    return rows
