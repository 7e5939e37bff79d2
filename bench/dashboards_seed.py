"""Seeding for `bench/dashboards.py`: a large, realistic chorus-chain world on PostgreSQL, written with COPY.

Why not the operations: depositing and acting through `chorus_chain.operations` costs a few milliseconds a piece
(row locks, access rows, notifications, flushes); 100 000 pieces would take the better part of an hour. So the world
is *simulated* with the same pure rules the operations use, then written in bulk:

- the chain of each marché is checked and its routes computed by `chorus_chain.graph` (build_chain, all_routes);
- each piece lives through the transition table (`domain.transitions.perform`: deposit, then actions chosen at
  random, weighted towards progress, at instants drawn in the past), with its clocks opened and closed by
  `domain.deadlines.clock_changes`; a clock that runs out before the next action gets the sweep's system action
  (`deadlines.expiry_action`) at its due instant, as `operations.pieces_deadlines` would have applied it;
- access rows come from `operations.pieces_records.grants` (graph.visible_structures + the holder), roles as the
  operations write them;
- events are hash-chained with `domain.audit_chain` exactly as `record_event` does (payload from the row alone,
  deposit facts as `extra`), so `flask audit verify` passes on the seeded database (the CI test checks it);
- notifications follow `records.announce`: "à traiter" to whoever must act, "statut" to the emitter when someone
  else moved its piece; older ones are read.

Simplifications (they do not change what the dashboards read): every action is taken by the acting structure's
gestionnaire; notifications go to the gestionnaire only (not to every member holding the right); no e-mail
outbox rows; a resent or redirected piece keeps its routing fields; one main PDF per piece, no attachments; no
états d'acompte rows (a piece an état pays at another amount has no `accepted_why`: its page says the history holds
the decision, as for pieces older than issue 15).

Rows are inserted as the `postgres` superuser: COPY FROM is refused on tables under row-level security for the
ordinary role, and a superuser bypasses it. The application itself then connects as `chorus_app` (RLS applies).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import random
import resource
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from stdnum import iban as stdnum_iban
from stdnum import luhn
from werkzeug.security import generate_password_hash

from chorus_chain import formatting, graph
from chorus_chain.domain import amount_why, audit_chain, numbering, statuses
from chorus_chain.domain import deadlines as clocks
from chorus_chain.domain import transitions as T
from chorus_chain.domain.cadres import is_works_piece
from chorus_chain.domain.rights import DEFAULT_MEMBER_RIGHTS, DOMAINS, GESTIONNAIRE_RIGHTS
from chorus_chain.graph import Role
from chorus_chain.operations import pieces_records as records

BENCH_PASSWORD = "bench-chorus-2026"
CENT = Decimal("0.01")
A = T.Action

# The accounts the clients log in with, each the gestionnaire of a busy structure (see `_busy`).
BENCH_LOGINS = {
    "titulaire": "titulaire@bench.chorus-chain.fr",  # titulaire or mandataire of about a quarter of the marchés
    "moe": "moe@bench.chorus-chain.fr",  # maître d'œuvre of about 40 % of the works marchés
    "moa": "moa@bench.chorus-chain.fr",  # maître d'ouvrage and paying office of about 15 % of the marchés
    "sous_traitant": "st@bench.chorus-chain.fr",  # sous-traitant (paiement direct) on many marchés
}

# How often each cadre is used, relative to the others (monthly projets de décompte and invoices dominate; the
# end-of-contract pieces are rare).
CADRE_WEIGHT = {
    "A1": 30, "A9": 20, "A12": 15, "A4": 40, "A10": 25, "A13": 20, None: 12,
    "A2": 2, "A7": 2, "A14": 2, "A15": 4, "A16": 3, "A19": 2, "A25": 1,
    "A22": 0.3, "A23": 0.3, "A8": 0.5, "A17": 0.3, "A24": 0.3,
}
# Which action a user takes when several are open: progress mostly, a refusal or a suspension now and then.
ACTION_WEIGHT = {
    A.VALIDATE: 40, A.TAKE: 40, A.ISSUE_ETAT_ACOMPTE: 40, A.MOA_TAKE: 40, A.MOA_VALIDATE: 40,
    A.MARK_SERVICE_FAIT: 40, A.MARK_MANDATEE: 40, A.MARK_PAID: 40, A.SIGN_DG: 30, A.RESEND: 30, A.COMPLETE: 30,
    A.REDIRECT_VALIDATOR: 30, A.VALIDATE_PARTIALLY: 5, A.SIGN_DG_WITH_RESERVATIONS: 6,
    A.REFUSE: 1.5, A.MOA_REFUSE: 1, A.REJECT: 1, A.REFUSE_DG: 1, A.SUSPEND: 1.5, A.RECYCLE: 1.5,
    A.WRONG_VALIDATOR: 0.5, A.REFER_TO_MOA: 0.5, A.REPLACE_BY_A22: 0.5, A.ACKNOWLEDGE_REJECTION: 20,
}
# Mean days before the actor of a step acts (validators and the MOE sometimes let their clock run out).
ACTOR_DELAY_DAYS = {
    T.STEP_VALIDATION_1: 7, T.STEP_VALIDATION_2: 6, T.STEP_MOE: 4.5, T.STEP_MOA: 5, T.STEP_PAIEMENT: 7,
    T.STEP_CONTRACTOR: 10, T.EMITTER: 4, T.TITULAIRE: 12,
}
REFUSAL_CODES = ("non_conforme", "non_realise", "doublon", "hors_perimetre", "pieces_manquantes")
PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

PUBLIC_NAMES = ("Commune de", "Département de", "Communauté de communes de", "Syndicat des eaux de",
                "Centre hospitalier de", "Office public de l'habitat de")
TOWNS = ("Angers", "Cholet", "Saumur", "Laval", "Le Mans", "Nantes", "Tours", "Blois", "Vendôme", "Niort",
         "Poitiers", "La Roche-sur-Yon", "Segré", "Château-Gontier", "Mayenne", "Sablé-sur-Sarthe", "Chinon",
         "Loches", "Amboise", "Saint-Nazaire", "Ancenis", "Clisson", "Fontenay-le-Comte", "Parthenay")
TRADES = ("Bâtiment", "Électricité", "Plomberie", "Menuiserie", "Plâtrerie", "Peinture", "Couverture",
          "Charpente", "Terrassement", "Maçonnerie", "Carrelage", "Serrurerie", "Nettoyage", "Chauffage",
          "Étanchéité", "Voirie", "Espaces verts", "Informatique", "Restauration", "Signalétique")
FAMILY = ("Durand", "Martin", "Bernard", "Petit", "Moreau", "Leroy", "Roux", "Fournier", "Girard", "Bonnet",
          "Lambert", "Fontaine", "Rousseau", "Vincent", "Muller", "Lefèvre", "Faure", "André", "Mercier", "Blanc")
FORMS = ("SAS", "SARL", "SA", "EURL", "& Fils", "Frères")
FIRST = ("Claire", "Julien", "Sophie", "Karim", "Nathalie", "Thomas", "Léa", "Paul", "Marc", "Inès", "Hugo", "Emma")


# The reference world: 240 structures and 120 marchés for 100 000 pieces. Larger worlds grow both with the pieces
# (a region's platform has more buyers and more marchés, not more pieces per marché), while the busy accounts keep
# their share of the marchés (see `_marches`): the busiest maître d'œuvre sees about a quarter of the pieces at any
# size (≈ 26 000 at 100 000, ≈ 260 000 at 1 000 000), as in issue 20.
REFERENCE_PIECES, REFERENCE_STRUCTURES, REFERENCE_MARCHES = 100_000, 240, 120
CHUNK = 5_000  # pieces simulated, written (COPY) and forgotten together: the seeder's memory is one chunk's rows


@dataclass
class Sizes:
    structures: int | None = None  # None: grows with the pieces (`scaled`)
    marches: int | None = None
    pieces: int = 100_000
    history_days: int = 540  # pieces are deposited over the last 18 months
    seed: int = 2026
    chunk: int = CHUNK

    def __post_init__(self) -> None:
        scale = self.pieces / REFERENCE_PIECES
        if self.structures is None:
            self.structures = max(REFERENCE_STRUCTURES, round(REFERENCE_STRUCTURES * scale))
        if self.marches is None:
            self.marches = max(REFERENCE_MARCHES, round(REFERENCE_MARCHES * scale))


@dataclass
class World:
    """What the seeding built, for the benchmark and the report."""

    now: datetime
    logins: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (e-mail, siret)
    counts: Counter = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    pieces_by_login: dict[str, int] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)  # the seeding process, and its --jobs workers


def _siret(n: int, public: bool) -> str:
    """A valid SIRET (Luhn) from a running number: SIREN of 9 digits (2… public, 4…–8… companies) + NIC 00013."""
    siren_body = f"{(2 if public else 4) + n // 10_000_000:d}{n % 10_000_000:07d}"
    siren = siren_body + luhn.calc_check_digit(siren_body)
    nic_body = siren + "0001"
    return nic_body + luhn.calc_check_digit(nic_body)


def _iban(n: int) -> str:
    bban = f"30004{n % 100000:05d}{n:011d}{n % 97:02d}"
    return "FR" + stdnum_iban.calc_check_digits("FR00" + bban) + bban


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class Writer:
    """Rows per table, written with COPY by `copy`, which forgets them: the seeder writes one chunk at a time.

    Ids: a table whose rows others point at by id before they exist (accounts, structures, marchés, parties) gets
    its ids here, from the Writer's counters (`assign_ids=True`, the world's head: written once). The pieces carry
    their own (a chunk's ids are known in advance: disjoint ranges for the --jobs processes). The rows nobody
    points at (events, access rows, clocks, notifications, files) get theirs from the table's sequence (COPY
    without the id column), so processes writing chunks side by side never collide.
    """

    def __init__(self, assign_ids: bool = False) -> None:
        self.assign_ids = assign_ids
        self.rows: dict[str, list[tuple]] = defaultdict(list)
        self.columns: dict[str, tuple[str, ...]] = {}
        self.next_id: Counter = Counter()

    def add(self, table: str, **values) -> int | None:
        row_id = values.get("id")
        if row_id is None and self.assign_ids:
            self.next_id[table] += 1
            row_id = self.next_id[table]
            values = {"id": row_id, **values}
        columns = self.columns.setdefault(table, tuple(values))
        self.rows[table].append(tuple(values[c] for c in columns))
        return row_id

    def copy(self, conn, order: list[str]) -> Counter:
        counts = Counter()
        with conn.cursor() as cur:
            for table in order:
                rows = self.rows.pop(table, None)
                if not rows:
                    continue
                columns = ", ".join(self.columns[table])
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                counts[table] = len(rows)
                if self.assign_ids:
                    cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)",
                                (self.next_id[table],))
        return counts


# ---------------------------------------------------------------------------------------------------------------------
# Structures, accounts, members


@dataclass
class Org:
    id: int
    siret: str
    name: str
    public: bool
    gestionnaire_id: int
    email: str
    kind: str  # "public", "moe", "company"


def _people(w: Writer, rng: random.Random, sizes: Sizes, now: datetime, world: World) -> dict[str, list[Org]]:
    password_hash = generate_password_hash(BENCH_PASSWORD)  # scrypt once: every account shares it
    n_public = max(20, sizes.structures // 8)
    n_moe = max(10, sizes.structures // 15)
    orgs: dict[str, list[Org]] = {"public": [], "moe": [], "company": []}
    created = now - timedelta(days=sizes.history_days + 60)
    for n in range(sizes.structures):
        kind = "public" if n < n_public else "moe" if n < n_public + n_moe else "company"
        town = TOWNS[n % len(TOWNS)]
        if kind == "public":
            name = f"{PUBLIC_NAMES[n % len(PUBLIC_NAMES)]} {town}" + (f" {n // len(TOWNS)}" if n >= len(TOWNS) else "")
        elif kind == "moe":
            name = f"Atelier {FAMILY[n % len(FAMILY)]} Architectes {n}"
        else:
            name = f"{TRADES[n % len(TRADES)]} {FAMILY[(n * 7) % len(FAMILY)]} {FORMS[n % len(FORMS)]} {n}"
        email = f"gestion{n}@bench.chorus-chain.fr"
        # The busy structures (first of each kind) log in with the names of BENCH_LOGINS.
        for key, (login_kind, index) in {"moa": ("public", 0), "moe": ("moe", n_public),
                                          "titulaire": ("company", n_public + n_moe),
                                          "sous_traitant": ("company", n_public + n_moe + 1)}.items():
            if n == index:
                email = BENCH_LOGINS[key]
        account_id = w.add("account", email=email, contact_email=None, first_name=FIRST[n % len(FIRST)],
                           last_name=FAMILY[n % len(FAMILY)], phone=None, password_hash=password_hash,
                           activated_at=created, created_at=created, last_login_at=None, session_version=1,
                           is_operator=False)
        siret = _siret(n + 1, kind == "public")
        structure_id = w.add("structure", siret=siret, name=name, is_public=kind == "public",
                             address_line=f"{n % 90 + 1} rue des Artisans", postal_code=f"49{n % 1000:03d}",
                             city=town, vat_number=None, size_class="ge" if kind == "public" else "pme",
                             routing_requirement="code_service" if kind == "public" else "none",
                             gestionnaire_id=account_id, created_at=created)
        w.add("rattachement", account_id=account_id, structure_id=structure_id, status="approved", message="",
              requested_at=created, decided_at=created, decided_by_id=account_id,
              **{f"right_{d}": GESTIONNAIRE_RIGHTS[d] for d in DOMAINS})
        # One or two colleagues with the default rights (the member lists and rights checks see them).
        for m in range(rng.choice((0, 1, 1, 2))):
            member_id = w.add("account", email=f"membre{n}.{m}@bench.chorus-chain.fr", contact_email=None,
                              first_name=FIRST[(n + m + 3) % len(FIRST)], last_name=FAMILY[(n + m) % len(FAMILY)],
                              phone=None, password_hash=password_hash, activated_at=created, created_at=created,
                              last_login_at=None, session_version=1, is_operator=False)
            w.add("rattachement", account_id=member_id, structure_id=structure_id, status="approved", message="",
                  requested_at=created, decided_at=created, decided_by_id=account_id,
                  **{f"right_{d}": DEFAULT_MEMBER_RIGHTS[d] for d in DOMAINS})
        if kind == "public":
            for code, label in (("TECH", "Services techniques"), ("FIN", "Service financier")):
                w.add("service", structure_id=structure_id, code=code, name=label, active=True, valid_from=None,
                      valid_to=None, engagement_required=code == "FIN", created_at=created)
        else:
            w.add("bank_account", structure_id=structure_id, label="Compte principal", iban=_iban(n + 1),
                  bic="BNPAFRPPXXX", is_default=True, affactureur=False, active=True, created_at=created)
        org = Org(structure_id, siret, name, kind == "public", account_id, email, kind)
        orgs[kind].append(org)
        for key, login in BENCH_LOGINS.items():
            if login == email:
                world.logins[key] = (email, siret)
    return orgs


# ---------------------------------------------------------------------------------------------------------------------
# Marchés and their chains


@dataclass
class MarcheSim:
    id: int
    reference: str
    kind: str
    tva_rate: Decimal
    dgp_days: int
    moe_days: int
    chain: graph.Chain
    parties: dict[int, dict]  # party id -> row values (siret, structure_id, role, service_code)
    routes: list[tuple[int, str | None, list[graph.Step]]]
    holder_id: int | None
    moa_service_code: str
    paying_service_code: str
    engagement_number: str
    weight: float


def _pick(rng: random.Random, orgs: list[Org], used: set[int]) -> Org:
    """A random structure not yet in the marché: draw again on a hit (a marché holds a handful of the thousands of
    companies of a large world; filtering the whole list for each draw made the chains quadratic)."""
    while True:
        org = rng.choice(orgs)
        if org.id not in used:
            return org


def _marches(w: Writer, rng: random.Random, sizes: Sizes, orgs: dict[str, list[Org]], now: datetime
             ) -> list[MarcheSim]:
    publics, moes, companies = orgs["public"], orgs["moe"], orgs["company"]
    busy_titulaire, busy_st = companies[0], companies[1]
    others, other_publics, other_moes = companies[2:], publics[1:], moes[1:]
    marches = []
    for n in range(sizes.marches):
        kind = rng.choices(("travaux", "services", "fournitures"), (70, 20, 10))[0]
        works = kind == "travaux"
        moa = publics[0] if rng.random() < 0.15 else rng.choice(other_publics)
        paying = moa if rng.random() < 0.6 else _pick(rng, publics, {moa.id})
        moe = (moes[0] if rng.random() < 0.4 else rng.choice(other_moes)) if works else None
        holder = busy_titulaire if rng.random() < 0.25 else rng.choice(others)
        groupement = "conjoint" if works and rng.random() < 0.25 else "none"
        montant_ht = Decimal(rng.randrange(80_000, 4_000_000, 1000))
        tva = Decimal("20.00")
        ttc = money(montant_ht * (1 + tva / 100))
        created = now - timedelta(days=sizes.history_days + rng.randrange(10, 50))
        reference = f"BENCH-{created.year}-{n + 1:04d}"
        marche_id = w.add(
            "marche", reference=reference, objet=f"{TRADES[n % len(TRADES)]} : travaux et prestations, lot {n + 1}",
            kind=kind, moa_service_code="TECH", engagement_number=f"EJ-{created.year}-{n + 1:06d}",
            paying_service_code="FIN", montant_ht=montant_ht, tva_rate=tva, dgp_days=30, moe_days=7,
            retenue_rate=Decimal("5.00"), retenue_replaced_by_guarantee=False, avance_rate=Decimal("5.00"),
            duration_months=rng.choice((6, 12, 18, 24)), avance_guarantee=False,
            avance_repayment_end=Decimal("80.00"), penalty_daily_amount=None, penalty_exemption=True,
            guarantee_months=12, reception_on=None, price_form="ferme", revision_a=None, revision_index=None,
            revision_base_month=None, ccag_version="2021", groupement=groupement, cotraitance_circuit="each",
            created_by_id=moa.id, created_at=created, version=1)
        w.add("marche_event", marche_id=marche_id, party_id=None, at=created, account_id=moa.gestionnaire_id,
              structure_id=moa.id, kind="marche.created", detail=json.dumps({"reference": reference}))
        used = {moa.id, paying.id, holder.id} | ({moe.id} if moe else set())
        rows: list[tuple[Org, str, int | None, Decimal | None]] = []  # (org, role, parent index, montant_ttc)
        rows += [(moa, Role.MOA, None, None), (paying, Role.PAYING_OFFICE, None, None)]
        if moe:
            rows.append((moe, Role.MOE, None, None))
        contractors = []
        if groupement == "conjoint":
            n_co = rng.choice((1, 1, 2))
            shares = [Decimal("0.6")] + [Decimal("0.4") / n_co] * n_co
            rows.append((holder, Role.MANDATAIRE, None, money(ttc * shares[0])))
            contractors.append((len(rows) - 1, money(ttc * shares[0])))
            for i in range(n_co):
                co = _pick(rng, others, used)
                used.add(co.id)
                rows.append((co, Role.COTRAITANT, contractors[0][0], money(ttc * shares[i + 1])))
                contractors.append((len(rows) - 1, money(ttc * shares[i + 1])))
        else:
            rows.append((holder, Role.TITULAIRE, None, None))
            contractors.append((len(rows) - 1, ttc))
        # Sous-traitants: 1 to 5 rang 1 (the busy one often among them), a few rang 2, now and then a tiny one
        # without paiement direct (< 600 € TTC) that invoices its contractor privately.
        for _ in range(rng.randint(1, 5)):
            parent_index, part = rng.choice(contractors)
            st = busy_st if busy_st.id not in used and rng.random() < 0.35 else _pick(rng, others, used)
            used.add(st.id)
            amount = Decimal("480.00") if rng.random() < 0.08 else money(part * Decimal(rng.randint(2, 12)) / 100)
            rows.append((st, Role.SOUS_TRAITANT, parent_index, amount))
            if amount >= 600 and rng.random() < 0.25:
                rang2 = _pick(rng, others, used)
                used.add(rang2.id)
                rows.append((rang2, Role.SOUS_TRAITANT, len(rows) - 1, money(amount * Decimal("0.3"))))
        party_ids: list[int] = []
        parties: dict[int, dict] = {}
        graph_parties = []
        for org, role, parent_index, amount in rows:
            parent_id = party_ids[parent_index] if parent_index is not None else None
            is_st = role == Role.SOUS_TRAITANT
            values = dict(
                marche_id=marche_id, structure_id=org.id, siret=org.siret, name=org.name, role=role,
                parent_id=parent_id, montant_ttc=amount, status="confirmed",
                service_code="FIN" if role == Role.PAYING_OFFICE else None, invited_email=None,
                invited_by_id=moa.id, invited_at=created, decided_at=created, decided_by_id=org.gestionnaire_id,
                dc4_nature=f"{TRADES[org.id % len(TRADES)]} (sous-traitance)" if is_st else None,
                dc4_payment_terms="Paiement à 30 jours." if is_st else None,
                iban=_iban(org.id) if is_st else None, bic="BNPAFRPPXXX" if is_st else None,
                dc4_received_at=(created + timedelta(days=5)).date() if is_st else None,
                dc4_status="accepted" if is_st else None,
                accepted_on=(created + timedelta(days=12)).date() if is_st else None, dc4_refusal_reason=None,
                created_at=created)
            party_id = w.add("marche_party", **values)
            party_ids.append(party_id)
            parties[party_id] = {"structure_id": org.id, "siret": org.siret, "role": role, "org": org,
                                 "service_code": values["service_code"]}
            graph_parties.append(graph.Party(key=party_id, structure_id=org.id, siret=org.siret, name=org.name,
                                             role=role, parent_key=parent_id, montant_ttc=amount))
        info = graph.MarcheInfo(kind=kind, groupement=groupement, cotraitance_circuit="each", montant_ttc=ttc)
        chain = graph.build_chain(info, graph_parties)  # raises if this generator broke a rule of the chain
        holder_party = next(p for p in graph_parties if p.role in Role.HOLDERS)
        marches.append(MarcheSim(
            id=marche_id, reference=reference, kind=kind, tva_rate=tva, dgp_days=30, moe_days=7, chain=chain,
            parties=parties, routes=graph.all_routes(chain), holder_id=holder_party.structure_id,
            moa_service_code="TECH", paying_service_code="FIN", engagement_number=f"EJ-{created.year}-{n + 1:06d}",
            weight=rng.lognormvariate(0, 0.6)))
    return marches


# ---------------------------------------------------------------------------------------------------------------------
# Pieces: one life each through the transition table


@dataclass
class RouteInfo:
    marche: MarcheSim
    key: int
    cadre: str | None
    steps: tuple[str, ...]
    route: list[dict]
    route_text: list[str]
    grants: list[records.Grant]
    emitter: Org
    recipient: dict
    autoliquidation: bool
    works: bool
    structures_by_actor: dict[str, list[int]]


def _route_infos(marches: list[MarcheSim]) -> list[tuple[RouteInfo, float]]:
    infos = []
    for marche in marches:
        for key, cadre, steps in marche.routes:
            route = [{"party_id": s.party_key, "structure_id": marche.parties[s.party_key]["structure_id"],
                      "siret": s.siret, "role": s.role, "step": s.step} for s in steps]
            grants = records.grants(marche.chain, key, cadre, route, marche.holder_id)
            by_actor: dict[str, list[int]] = defaultdict(list)
            by_actor[T.EMITTER].append(marche.parties[key]["structure_id"])
            for step in route:
                by_actor[step["step"]].append(step["structure_id"])
            if records.route_has_actor(tuple(s["step"] for s in route), cadre, T.TITULAIRE):
                by_actor[T.TITULAIRE].append(marche.holder_id)
            info = RouteInfo(
                marche=marche, key=key, cadre=cadre, steps=tuple(s["step"] for s in route), route=route,
                route_text=[f"{s['step']}:{s['siret']}" for s in route], grants=grants,
                emitter=marche.parties[key]["org"], recipient=marche.parties[steps[-1].party_key],
                autoliquidation=graph.autoliquidation(marche.chain, key), works=is_works_piece(cadre, marche.kind),
                structures_by_actor=dict(by_actor))
            infos.append((info, marche.weight * CADRE_WEIGHT.get(cadre, 1)))
    return infos


@lru_cache(maxsize=None)
def _clock_changes(from_status, to_status, steps: tuple[str, ...], cadre: str | None) -> clocks.ClockChanges:
    return clocks.clock_changes(from_status, to_status, steps, cadre=cadre)


class PieceSim:
    """One piece's life: the events (hash-chained), its clocks, its notifications; then its rows."""

    def __init__(self, w: Writer, world: World, orgs_by_id: dict[int, Org], info: RouteInfo, piece_id: int,
                 number: str, rng: random.Random) -> None:
        self.w, self.world, self.orgs, self.info, self.id, self.number, self.rng = (
            w, world, orgs_by_id, info, piece_id, number, rng)
        self.seq = 0
        self.head = audit_chain.GENESIS
        self.status = statuses.INITIAL_STATUS.value
        self.clocks: dict[str, dict] = {}  # open clocks by kind
        self.accepted_amount = None
        self.accepted_why = None  # why the accepted amount differs, as the operations store it (amount_why)
        self.paid_on = self.paid_amount = None
        self.received_at = self.received_by_moe_at = None
        self.acknowledged = False
        self.events = 0

    # -- recording ---------------------------------------------------------------------------------------------------
    def record(self, *, action: str, actor_step: str, from_status: str | None, to_status: str, at: datetime,
               structure_id: int | None, reason=None, comment=None, amount=None, paid_on=None, extra=None) -> None:
        org = self.orgs[structure_id] if structure_id is not None else None
        extra = records.jsonable(extra)
        actor = org.email if org else records.SYSTEM_ACTOR
        siret = org.siret if org else None
        # The dict `audit_chain.event_payload` builds, without its up-front serialisation check (event_hash
        # serialises it anyway: one canonical JSON per event instead of two, a third of the seeding's time).
        payload = {"piece": records.piece_ref(self.id), "seq": self.seq, "at": at, "actor": actor,
                   "actor_siret": siret, "action": action, "from": from_status, "to": to_status, "reason": reason,
                   "comment": comment, "amount": amount, "paid_on": paid_on}
        if extra:
            payload["extra"] = extra
        digest = audit_chain.event_hash(self.head, payload)
        self.w.add("piece_event", piece_id=self.id, seq=self.seq, at=at,
                   account_id=org.gestionnaire_id if org else None, actor=actor,
                   structure_id=structure_id, actor_siret=siret, actor_step=actor_step, action=action,
                   from_status=from_status, to_status=to_status, reason=reason, comment=comment, amount=amount,
                   paid_on=paid_on, extra=json.dumps(extra) if extra else None, prev_hash=self.head, hash=digest)
        self.head = digest
        self.last_at = at
        self.seq += 1
        self.events += 1

    def transitions(self, transitions: list[T.Transition], at: datetime, structure_id: int | None,
                    extra=None) -> None:
        for index, t in enumerate(transitions):
            system = t.actor_step == T.SYSTEM
            self.record(action=t.action, actor_step=t.actor_step, from_status=t.from_status.value,
                        to_status=t.to_status.value, at=at, structure_id=None if system else structure_id,
                        reason=t.reason, comment=t.comment, amount=t.amount, paid_on=t.paid_on,
                        extra=extra if index == 0 else None)
            self.status = t.to_status.value
            changes = _clock_changes(t.from_status, t.to_status, self.info.steps, self.info.cadre)
            for kind in changes.closed:
                clock = self.clocks.pop(kind, None)
                if clock is not None:
                    clock["done_at"] = at
                    self._write_clock(clock)
            for kind in changes.opened:
                self._open_clock(kind, at)
        if transitions and any(t.to_status != t.from_status for t in transitions):
            self._announce(transitions, at, structure_id)

    def _open_clock(self, kind: str, at: datetime) -> None:
        days = {clocks.MOE: self.info.marche.moe_days, clocks.PAIEMENT: self.info.marche.dgp_days}.get(kind)
        self.clocks[kind] = {"kind": kind, "due_at": clocks.due_at(kind, at, days=days), "created_at": at,
                             "done_at": None}
        if kind == clocks.PAIEMENT:
            self.received_at = at
        if kind == clocks.MOE and self.received_by_moe_at is None:
            self.received_by_moe_at = at

    def _write_clock(self, clock: dict) -> None:
        self.w.add("deadline", kind=clock["kind"], due_at=clock["due_at"], done_at=clock["done_at"],
                   marche_party_id=None, piece_id=self.id, reminders_sent="[]", created_at=clock["created_at"])

    def _notify(self, structure_id: int, kind: str, text: str, at: datetime) -> None:
        org = self.orgs[structure_id]
        # Older than a week: read (people open their bell); the recent ones are still unread.
        read_at = at + timedelta(hours=self.rng.randint(1, 72)) if self.world.now - at > timedelta(days=7) else None
        self.w.add("notification", account_id=org.gestionnaire_id, structure_id=structure_id, piece_id=self.id,
                   kind=kind, text=text[:500], url=f"/s/{org.siret}/pieces/{self.id}", created_at=at,
                   read_at=read_at)

    def _announce(self, transitions: list[T.Transition], at: datetime, actor_structure_id: int | None) -> None:
        """`records.announce`: whoever must act now, and the emitter when someone else moved its piece."""
        status = transitions[-1].to_status
        what = f"Pièce n° {self.number} de {self.info.emitter.name}"
        waiting = T.current_step(status)
        told = set()
        if waiting not in (None, T.SYSTEM):
            for structure_id in self.info.structures_by_actor.get(waiting, ()):
                if structure_id != actor_structure_id:
                    self._notify(structure_id, "piece_to_act",
                                 f"{what} : {statuses.label(status)}. {statuses.explanation(status)}", at)
                told.add(structure_id)
        emitter_id = self.info.emitter.id
        if actor_structure_id != emitter_id and emitter_id not in told:
            self._notify(emitter_id, "piece_status",
                         f"Votre pièce n° {self.number} est maintenant « {statuses.label(status)} ».", at)

    # -- the life ----------------------------------------------------------------------------------------------------
    def live(self, created: datetime, draft: bool) -> None:
        info, rng, now = self.info, self.rng, self.world.now
        marche = info.marche
        ht = Decimal(rng.randrange(50_000, 20_000_000)) / 100
        tva = Decimal("0.00") if info.autoliquidation else money(ht * marche.tva_rate / 100)
        ttc = ht + tva
        self.ht, self.tva, self.ttc = ht, tva, ttc
        body = PDF + f"{info.emitter.siret}/{self.number}".encode()
        sha = hashlib.sha256(body).hexdigest()
        self.sha = sha
        self.w.add("stored_file", sha256=sha, size=len(body), content=body, created_at=created)
        emitter_id = info.emitter.id
        self.record(action=A.CREATE, actor_step=T.EMITTER, from_status=None, to_status=self.status, at=created,
                    structure_id=emitter_id)
        self.w.add("piece_file", piece_id=self.id, role="main", name=f"{self.number}.pdf",
                   content_type="application/pdf", size=len(body), sha256=sha,
                   added_by_id=info.emitter.gestionnaire_id, added_at=created)
        self.created = created
        self.deposited_at = None
        self.dossier = None
        if draft:
            return
        at = created + timedelta(minutes=rng.randint(2, 600))
        self.deposited_at = at
        self.dossier = numbering.format_dossier_number(at.year, self.id)
        public = info.cadre is not None
        self.service_code = (info.recipient["service_code"] or (
            marche.paying_service_code if info.recipient["role"] == Role.PAYING_OFFICE else marche.moa_service_code)
        ) if public else None
        self.engagement = marche.engagement_number if public else None
        facts = {
            "number": self.number, "type": "FACTURE", "cadre": info.cadre, "montant_ht": ht, "montant_tva": tva,
            "montant_ttc": ttc, "vat_regime": "autoliquidation" if info.autoliquidation else "normal",
            "issue_date": self.issue_date, "main_sha256": sha,
            "files": [{"name": f"{self.number}.pdf", "role": "main", "sha256": sha}],
            "recipient_siret": info.recipient["siret"], "service_code": self.service_code,
            "engagement_number": self.engagement, "dossier": self.dossier, "route": info.route_text,
        }
        for grant in info.grants:
            self.w.add("piece_access", piece_id=self.id, structure_id=grant.structure_id, reason=grant.reason,
                       roles=records.roles_text(grant.roles), created_at=at)
        self.transitions(T.perform(self.status, A.DEPOSIT, T.EMITTER, info.steps, cadre=info.cadre), at, emitter_id,
                         extra=facts)
        while True:
            choice = self._next_action()
            if choice is None:
                break
            action, actor = choice
            next_at = at + timedelta(days=rng.expovariate(1 / ACTOR_DELAY_DAYS.get(actor, 5)),
                                     minutes=rng.randint(5, 120))
            expired = min((c for c in self.clocks.values() if c["due_at"] < next_at and c["due_at"] <= now),
                          key=lambda c: c["due_at"], default=None)
            if expired is not None:  # the sweep came first
                at = expired["due_at"]
                self._expire(expired, at)
                continue
            if next_at > now:
                break  # still waiting today
            at = next_at
            if not self._act(action, actor, at):
                break
        for clock in self.clocks.values():
            self._write_clock(clock)

    def _next_action(self) -> tuple[str, str] | None:
        status = self.status
        options = []
        for row in T.rows_for_route(self.info.steps, cadre=self.info.cadre):
            if row.from_status != status or row.actor_step == T.SYSTEM:
                continue
            if row.to_status == status and (row.action != A.ACKNOWLEDGE_REJECTION or self.acknowledged):
                continue
            options.append((row.action, row.actor_step))
        if not options:
            return None
        if status in statuses.FINAL_STATUSES and self.rng.random() < 0.4:
            return None  # not every refusal is acknowledged
        weights = [ACTION_WEIGHT.get(action, 5) for action, _ in options]
        return self.rng.choices(options, weights)[0]

    def _expire(self, clock: dict, at: datetime) -> None:
        """What `operations.pieces_deadlines.apply_piece_deadline` does at the due instant, then the clock is done."""
        spec = clocks.DEADLINES[clock["kind"]]
        action = clocks.expiry_action(clock["kind"])
        if action is not None:
            reason = f"Échéance « {spec.label} » du {formatting.instant(clock['due_at'])} dépassée"
            try:
                self.transitions(T.perform(self.status, action, T.SYSTEM, self.info.steps, reason=reason,
                                           cadre=self.info.cadre), at, None)
            except T.TransitionRefused:
                pass
        if clock["kind"] in self.clocks:  # not closed by the transition: the sweep marks it done
            self.clocks.pop(clock["kind"])
            clock["done_at"] = at
            self._write_clock(clock)

    def _act(self, action: str, actor: str, at: datetime) -> bool:
        rng = self.rng
        inputs: dict = {}
        if action in (A.REFUSE, A.MOA_REFUSE, A.REJECT, A.REFUSE_DG):
            inputs["reason"] = rng.choice(REFUSAL_CODES)
        elif action == A.RECYCLE:
            inputs["reason"] = rng.choice(tuple(T.RECYCLE_REASONS))
        elif action == A.SUSPEND:
            inputs["reason"] = "Attestation d'assurance décennale à jour manquante."
        elif action == A.SIGN_DG_WITH_RESERVATIONS:
            inputs["reason"] = "Réserves sur la révision des prix du dernier trimestre."
        elif action == A.VALIDATE_PARTIALLY:
            inputs["amount"] = money((self.accepted_amount or self.ttc) * Decimal("0.9"))
        elif action == A.ISSUE_ETAT_ACOMPTE and rng.random() < 0.5:
            inputs["amount"] = self.ttc
        elif action == A.MARK_PAID:
            inputs["amount"] = self.accepted_amount or self.ttc
            inputs["paid_on"] = at.date()
        try:
            transitions = T.perform(self.status, action, actor, self.info.steps, cadre=self.info.cadre, **inputs)
        except T.TransitionRefused:
            return False
        first = transitions[0]
        if action in (A.VALIDATE_PARTIALLY, A.ISSUE_ETAT_ACOMPTE) and first.amount is not None:
            self.accepted_amount = first.amount
        if action == A.VALIDATE_PARTIALLY:  # pieces_actions._prepare; an état's why needs the état (not seeded)
            self.accepted_why = amount_why.partial_record(first.reason, first.comment)
        if action == A.MARK_PAID:
            self.paid_on, self.paid_amount = first.paid_on, first.amount
        if action == A.ACKNOWLEDGE_REJECTION:
            self.acknowledged = True
        acting = self.info.structures_by_actor.get(actor, [None])[0]
        self.transitions(transitions, at, acting)
        return True

    def write(self, updated_at: datetime) -> None:
        info = self.info
        self.w.add(
            "piece", id=self.id, marche_id=info.marche.id, emitter_party_id=info.key,
            emitter_structure_id=info.emitter.id,
            cadre=info.cadre, works=info.works, piece_type="FACTURE", number=self.number,
            number_key=numbering.number_key(self.number), status=self.status,
            route=json.dumps(info.route) if self.deposited_at else None, montant_ht=self.ht,
            montant_tva=self.tva, montant_ttc=self.ttc,
            vat_regime="autoliquidation" if info.autoliquidation else "normal",
            accepted_amount=self.accepted_amount,
            accepted_why=json.dumps(self.accepted_why) if self.accepted_why else None, issue_date=self.issue_date,
            recipient_siret=info.recipient["siret"],
            service_code=self.service_code if self.deposited_at else None,
            engagement_number=self.engagement if self.deposited_at else None, bank_account_id=None,
            payment_mode="virement", original_piece_id=None, previous_piece_id=None, dossier_number=self.dossier,
            main_sha256=self.sha, deposited_at=self.deposited_at, received_by_moe_at=self.received_by_moe_at,
            received_at=self.received_at, paid_on=self.paid_on, paid_amount=self.paid_amount, head_hash=self.head,
            version=1 + self.events, created_by_id=info.emitter.gestionnaire_id, created_at=self.created,
            updated_at=updated_at)


@dataclass
class Plan:
    """What every chunk of pieces needs, built once (the world's head): the routes to draw from and who is who.
    The --jobs processes inherit it by fork."""

    sizes: Sizes
    now: datetime
    orgs_by_id: dict[int, Org]
    routes: tuple[RouteInfo, ...]
    cum_weights: list[float]
    login_structures: dict[str, int]  # BENCH_LOGINS key -> structure id

    @property
    def chunks(self) -> int:
        return -(-self.sizes.pieces // self.sizes.chunk)


@dataclass
class ChunkResult:
    counts: Counter
    statuses: Counter
    visible: Counter  # BENCH_LOGINS key -> pieces of the chunk its structure sees (emitted or with an access row)
    simulate: float
    copy: float
    peak_rss_mb: float


def _simulate_chunk(plan: Plan, chunk: int, w: Writer) -> tuple[Counter, Counter]:
    """Pieces [chunk × size + 1, …] live and leave their rows in `w`. A chunk has its own random stream and its own
    slice of the history, so the world does not depend on how many processes seed it, nor in which order."""
    sizes = plan.sizes
    first = chunk * sizes.chunk
    count = min(sizes.chunk, sizes.pieces - first)
    rng = random.Random(f"{sizes.seed}/pieces/{chunk}")
    world = World(now=plan.now)
    chosen = rng.choices(plan.routes, cum_weights=plan.cum_weights, k=count)
    # Pieces are inserted in deposit order (ids grow with time, as in production): the chunk's pieces are drawn
    # uniformly within its share of the history, oldest first.
    oldest = sizes.history_days * (1 - first / sizes.pieces)
    newest = sizes.history_days * (1 - (first + count) / sizes.pieces)
    ages = sorted((rng.uniform(newest, oldest) for _ in range(count)), reverse=True)
    statuses_, visible = Counter(), Counter()
    login_of = {structure_id: key for key, structure_id in plan.login_structures.items()}
    for index, (info, age) in enumerate(zip(chosen, ages)):
        piece_id = first + index + 1
        at = plan.now - timedelta(days=age)
        # Numbered with the piece id: unique per emitter whichever process simulates it.
        number = f"F{info.emitter.id:04d}-{at.year}-{piece_id:06d}"
        sim = PieceSim(w, world, plan.orgs_by_id, info, piece_id, number, rng)
        sim.issue_date = at.date().replace(day=1)
        # Drafts are rare, and recent: nobody leaves a draft for a year.
        sim.live(at, draft=plan.now - at < timedelta(days=20) and rng.random() < 0.15)
        sim.write(updated_at=sim.last_at)
        statuses_[sim.status] += 1
        seeing = {info.emitter.id} | ({g.structure_id for g in info.grants} if sim.deposited_at else set())
        for structure_id in seeing & login_of.keys():
            visible[login_of[structure_id]] += 1
    return statuses_, visible


def _seed_chunk(conn, plan: Plan, chunk: int) -> ChunkResult:
    started = time.perf_counter()
    w = Writer()
    statuses_, visible = _simulate_chunk(plan, chunk, w)
    simulated = time.perf_counter()
    counts = w.copy(conn, PIECE_TABLES)
    conn.commit()
    del w  # the chunk's rows are gone: memory stays one chunk's worth
    return ChunkResult(counts, statuses_, visible, simulated - started, time.perf_counter() - simulated,
                       _peak_rss_mb())


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _connect(admin_db_url: str):
    import psycopg

    conn = psycopg.connect(admin_db_url)
    # Bulk-load mode for this session (superuser only): no foreign-key triggers per row. The rows are consistent by
    # construction, and `flask audit verify` plus the pages themselves read them back. A chunk's commit need not
    # wait for the disk: a seeding that dies is started again from an empty database.
    conn.execute("SET session_replication_role = replica")
    conn.execute("SET synchronous_commit = off")
    return conn


# The --jobs processes: each opens its connection once, then seeds the chunks it is handed.
_WORKER: dict = {}


def _worker_start(admin_db_url: str) -> None:
    _WORKER["conn"] = _connect(admin_db_url)


def _worker_chunk(chunk: int) -> ChunkResult:
    return _seed_chunk(_WORKER["conn"], _WORKER["plan"], chunk)


# Tables in an order that respects their foreign keys: the world's head, then each chunk's.
HEAD_TABLES = ["account", "structure", "rattachement", "service", "bank_account", "marche", "marche_event",
               "marche_party"]
PIECE_TABLES = ["stored_file", "piece", "piece_file", "piece_event", "piece_access", "deadline", "notification"]
TABLE_ORDER = HEAD_TABLES + PIECE_TABLES


def build_plan(sizes: Sizes, now: datetime) -> tuple[World, Writer, Plan]:
    """The world's head (structures, accounts, marchés and their chains, in a Writer) and the plan of its pieces."""
    world = World(now=now)
    rng = random.Random(sizes.seed)
    head = Writer(assign_ids=True)
    orgs = _people(head, rng, sizes, now, world)
    marches = _marches(head, rng, sizes, orgs, now)
    orgs_by_id = {o.id: o for kind in orgs.values() for o in kind}
    routes, weights = zip(*_route_infos(marches))
    plan = Plan(sizes=sizes, now=now, orgs_by_id=orgs_by_id, routes=routes,
                cum_weights=list(itertools.accumulate(weights)),
                login_structures={key: next(o.id for o in orgs_by_id.values() if o.siret == siret)
                                  for key, (_, siret) in world.logins.items()})
    return world, head, plan


def seed(admin_db_url: str, sizes: Sizes, now: datetime | None = None, jobs: int = 1,
         progress=None, analyze: bool = True) -> World:
    """Seed the (migrated, empty) database at `admin_db_url`, connected as a superuser: the world's head
    (structures, accounts, marchés), then the pieces chunk by chunk — simulated, COPYed, committed, forgotten — by
    this process or by `jobs` processes side by side. Returns what was built, with timings and peak memory.
    `progress(done_pieces, total)` is called after each chunk; `analyze=False` leaves `VACUUM ANALYZE` to the
    caller (bench/dashboards.py builds the read model first)."""
    now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    started = time.perf_counter()
    world, head, plan = build_plan(sizes, now)
    with _connect(admin_db_url) as conn:
        world.counts.update(head.copy(conn, HEAD_TABLES))
        conn.commit()
    del head
    world.seconds["head"] = time.perf_counter() - started

    started = time.perf_counter()
    results = []

    def collect(result: ChunkResult) -> None:
        results.append(result)
        world.counts.update(result.counts)
        world.statuses.update(result.statuses)
        if progress:
            progress(world.counts["piece"], sizes.pieces)

    if jobs <= 1:
        with _connect(admin_db_url) as conn:
            for chunk in range(plan.chunks):
                collect(_seed_chunk(conn, plan, chunk))
    else:
        _WORKER["plan"] = plan  # inherited by the forked processes
        context = multiprocessing.get_context("fork")
        with context.Pool(jobs, initializer=_worker_start, initargs=(admin_db_url,)) as pool:
            for result in pool.imap_unordered(_worker_chunk, range(plan.chunks)):
                collect(result)
        _WORKER.pop("plan")
    with _connect(admin_db_url) as conn:
        # The pieces' ids were given here: the sequence moves past them (the other tables used theirs).
        conn.execute("SELECT setval(pg_get_serial_sequence('piece', 'id'), %s)", (sizes.pieces,))
        conn.commit()
    world.seconds["pieces"] = time.perf_counter() - started  # wall clock of the chunks
    world.seconds["simulate"] = sum(r.simulate for r in results)  # summed over the processes
    world.seconds["copy"] = sum(r.copy for r in results)
    world.pieces_by_login = {key: sum(r.visible[key] for r in results) for key in world.logins}
    world.peak_rss_mb = {"seeder": _peak_rss_mb(),
                         "jobs": max((r.peak_rss_mb for r in results), default=0.0) if jobs > 1 else 0.0}
    if analyze:
        world.seconds["analyze"] = vacuum_analyze(admin_db_url)
    return world


def analyze(admin_db_url: str) -> float:
    """Statistics only (no vacuum): what the planner needs before the read model is built from the copied rows."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(admin_db_url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    return time.perf_counter() - started


def vacuum_analyze(admin_db_url: str) -> float:
    """Fresh statistics and visibility map, so that the planner sees the real volumes; returns the seconds."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(admin_db_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def check_sizes(sizes: Sizes) -> None:
    if sizes.structures < 60 or sizes.marches < 5 or sizes.pieces < 1:
        raise ValueError("at least 60 structures, 5 marchés and 1 piece")
    if sizes.chunk < 1:
        raise ValueError("a chunk holds at least one piece")

