"""The chain of a marché as a graph: who works under whom, which cadres each party may deposit, where a piece goes
and who may see it.

Pure: no Flask, no database. The callers load the party rows of one marché, turn them into `Party` values, and ask
this module. A marché has tens of parties, so the chain is cheap to rebuild on every request (DESIGN.md §5).

The graph is a networkx DiGraph whose nodes are party keys (one node per (structure, role) pair of the marché) and
whose edges go from a contractor to whoever works under it: titulaire → sous-traitant, mandataire → co-traitant,
mandataire → sous-traitant, co-traitant → sous-traitant, sous-traitant → sous-traitant of the next rang. The public
side (MOA, MOE, paying office) are nodes without edges.

Rules that the sources leave open are marked [assumed] in CHORUS.md; they live in the data tables below
(`CADRES_BY_ROLE`, `ROUTE_RULES`) so that they can change in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import networkx as nx

from chorus_chain.domain.cadres import CADRES


class Role:
    """The roles of a party in a marché, as the plain strings of the export contract."""

    MOA = "moa"
    MOE = "moe"
    PAYING_OFFICE = "paying_office"
    TITULAIRE = "titulaire"
    MANDATAIRE = "mandataire"
    COTRAITANT = "cotraitant"
    SOUS_TRAITANT = "sous_traitant"

    ALL = (MOA, MOE, PAYING_OFFICE, TITULAIRE, MANDATAIRE, COTRAITANT, SOUS_TRAITANT)
    PUBLIC = (MOA, MOE, PAYING_OFFICE)
    # The party that holds the marché: a titulaire alone, or the mandataire of a groupement.
    HOLDERS = (TITULAIRE, MANDATAIRE)
    # Whoever may subcontract part of its work.
    CONTRACTORS = (TITULAIRE, MANDATAIRE, COTRAITANT, SOUS_TRAITANT)


# French names of the roles, for messages and labels.
ROLE_LABELS: dict[str, str] = {
    Role.MOA: "maître d'ouvrage",
    Role.MOE: "maître d'œuvre",
    Role.PAYING_OFFICE: "service financier",
    Role.TITULAIRE: "titulaire",
    Role.MANDATAIRE: "mandataire",
    Role.COTRAITANT: "co-traitant",
    Role.SOUS_TRAITANT: "sous-traitant",
}

KINDS = ("travaux", "services", "fournitures")
GROUPEMENTS = ("none", "conjoint", "solidaire")
COTRAITANCE_CIRCUITS = ("each", "mandataire_for_all")

# A rang-1 sous-traitant whose accepted part reaches this amount TTC is paid directly by the buyer [sure].
PAIEMENT_DIRECT_THRESHOLD_TTC = Decimal("600")

# Cadres each role may deposit, by (role, is a works marché). Two more gates apply (see `allowed_cadres`): a
# co-traitant deposits nothing when the mandataire bills for the whole groupement, and a sous-traitant deposits
# nothing without paiement direct (it invoices its contractor privately).
CADRES_BY_ROLE: dict[tuple[str, bool], tuple[str, ...]] = {
    (Role.TITULAIRE, True): ("A4", "A7", "A22", "A23", "A8"),
    (Role.TITULAIRE, False): ("A1", "A2"),
    (Role.MANDATAIRE, True): ("A4", "A7", "A22", "A23", "A8"),
    (Role.MANDATAIRE, False): ("A1", "A2"),
    (Role.COTRAITANT, True): ("A13", "A14"),
    (Role.COTRAITANT, False): ("A12",),
    (Role.SOUS_TRAITANT, True): ("A10",),
    (Role.SOUS_TRAITANT, False): ("A9",),
    (Role.MOE, True): ("A15", "A16", "A17", "A24"),
    (Role.MOA, True): ("A19", "A20", "A25"),
}

# The stages of a route. VALIDATORS expands to the private validators upstream of the depositor (see
# `_validation_steps`); the others are one step each on the public side.
VALIDATORS = "validators"
STEP_MOE = "moe"
STEP_MOA = "moa"
STEP_PAIEMENT = "paiement"
STEP_CONTRACTOR = "contractor"

# Who acts on a piece of each cadre after its deposit, in order (CHORUS.md §3). Most routes end at the paying
# office; A15, A17, A22 and A24 end at the MOA, who answers with another piece (A20 DG, or nothing: the tacit procedure).
ROUTE_RULES: dict[str, tuple[str, ...]] = {
    "A1": (STEP_PAIEMENT,),
    "A2": (STEP_PAIEMENT,),
    "A9": (VALIDATORS, STEP_PAIEMENT),
    "A12": (VALIDATORS, STEP_PAIEMENT),
    "A10": (VALIDATORS, STEP_MOE, STEP_MOA, STEP_PAIEMENT),
    "A13": (VALIDATORS, STEP_MOE, STEP_MOA, STEP_PAIEMENT),
    "A14": (VALIDATORS, STEP_MOE, STEP_MOA, STEP_PAIEMENT),
    "A4": (STEP_MOE, STEP_MOA, STEP_PAIEMENT),
    "A7": (STEP_MOE, STEP_MOA, STEP_PAIEMENT),
    "A22": (STEP_MOA,),
    "A8": (STEP_PAIEMENT,),
    "A23": (STEP_PAIEMENT,),
    "A15": (STEP_MOA,),  # validated, the MOA's A19 goes to the paying office
    "A16": (STEP_PAIEMENT,),
    "A19": (STEP_PAIEMENT,),
    "A17": (STEP_MOA,),
    # The MOA's décompte général: deposited in its name, signed by it (its own step), then it waits for the
    # titulaire's signature (`transitions.END_OF_ROUTE_STATUS`); the titulaire is no route step.
    "A20": (STEP_MOA,),
    "A24": (STEP_MOA,),
    "A25": (STEP_PAIEMENT,),
}

# The public party that acts at each public stage.
_PUBLIC_STAGE_ROLE = {STEP_MOE: Role.MOE, STEP_MOA: Role.MOA, STEP_PAIEMENT: Role.PAYING_OFFICE}


# ---------------------------------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class MarcheInfo:
    """What the chain needs to know about the marché itself."""

    kind: str  # "travaux" | "services" | "fournitures"
    groupement: str  # "none" | "conjoint" | "solidaire"
    cotraitance_circuit: str  # "each": every co-traitant bills; "mandataire_for_all": the mandataire bills for all
    montant_ttc: Decimal

    def __post_init__(self) -> None:
        _require_choice("kind", self.kind, KINDS)
        _require_choice("groupement", self.groupement, GROUPEMENTS)
        _require_choice("cotraitance_circuit", self.cotraitance_circuit, COTRAITANCE_CIRCUITS)
        _require_decimal("montant_ttc", self.montant_ttc, optional=False)

    @property
    def is_travaux(self) -> bool:
        return self.kind == "travaux"


@dataclass(frozen=True)
class Party:
    """One (structure, role) pair of a marché.

    `parent_key` is the contractor this party works under (co-traitants and sous-traitants only). `montant_ttc` is the
    accepted part (DC4) of a sous-traitant or the part of a groupement member; None for a titulaire means the whole
    marché. `accepted` is the DC4 acceptance of a sous-traitant (no paiement direct before it).
    """

    key: int
    structure_id: int
    siret: str
    name: str
    role: str
    parent_key: int | None
    montant_ttc: Decimal | None
    confirmed: bool = True
    accepted: bool = True

    def __post_init__(self) -> None:
        _require_choice("role", self.role, Role.ALL)
        _require_decimal("montant_ttc", self.montant_ttc, optional=True)


@dataclass(frozen=True)
class Violation:
    """A broken rule, with a French message for the user and the party it is about (if any)."""

    code: str
    message_fr: str
    party_key: int | None = None


@dataclass(frozen=True)
class Step:
    """One party acting on a piece after its deposit; `step` is one of the export contract's step names."""

    party_key: int
    siret: str
    role: str
    step: str


@dataclass(frozen=True, eq=False)
class Chain:
    """A consistent chain (it passed `check`), built by `build_chain`. Treat it as read-only."""

    info: MarcheInfo
    graph: nx.DiGraph
    parties: dict[int, Party]

    def party(self, key: int) -> Party:
        """The party with this key, or a KeyError that says so."""
        try:
            return self.parties[key]
        except KeyError:
            raise KeyError(f"no party with key {key} in this chain") from None


class InvalidChainError(ValueError):
    """The parties break a consistency rule; `violations` says which."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__(" ".join(v.message_fr for v in violations))
        self.violations = violations


class IncompleteChainError(ValueError):
    """A route needs a party the marché does not have yet (see `check_complete`)."""


def _require_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")


def _require_decimal(name: str, value: Any, optional: bool) -> None:
    """Money must be Decimal: a float would silently lose cents."""
    if value is None and optional:
        return
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")


def format_euros(amount: Decimal) -> str:
    """French display of an amount: "12 000,00 €" (narrow no-break space between thousands, no-break before €)."""
    rounded = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    english = f"{rounded:,.2f}"  # "12,000.00"
    return english.replace(",", "\u202f").replace(".", ",") + "\u00a0€"


# ---------------------------------------------------------------------------------------------------------------------
# Building and checking


def build_chain(info: MarcheInfo, parties: list[Party]) -> Chain:
    """Build the chain of a marché. Raises InvalidChainError when `check` finds a violation, so that every query
    below can rely on the rules (one parent per contractor, no cycle, ...)."""
    violations = check(info, parties)
    if violations:
        raise InvalidChainError(violations)
    return Chain(info=info, graph=_graph(parties), parties={p.key: p for p in parties})


def _graph(parties: list[Party]) -> nx.DiGraph:
    """The contractor → worker graph. Tolerates broken input (used by `check` too): unknown parents are skipped."""
    graph = nx.DiGraph()
    keys = {p.key for p in parties}
    for party in parties:
        graph.add_node(party.key, party=party)
    for party in parties:
        if party.parent_key is not None and party.parent_key in keys:
            graph.add_edge(party.parent_key, party.key)
    return graph


def check(info: MarcheInfo, parties: list[Party]) -> list[Violation]:
    """The consistency rules, enforced on every change of the chain. Returns [] when the parties are consistent."""
    duplicates = _check_unique_keys(parties)
    if duplicates:
        return duplicates  # every other rule looks parties up by key
    return [
        *_check_role_counts(parties),
        *_check_groupement(info, parties),
        *_check_structure_once_per_role(parties),
        *_check_parents(parties),
        *_check_cycles(parties),
        *_check_amounts(info, parties),
    ]


def check_complete(info: MarcheInfo, parties: list[Party]) -> list[Violation]:
    """`check` plus what must exist before anyone deposits a piece: the MOA, the paying office, the MOE of a works
    marché, and a titulaire or a mandataire with at least one co-traitant."""
    violations = check(info, parties)
    roles = [p.role for p in parties]

    def missing(role: str, code: str, message: str) -> None:
        if role not in roles:
            violations.append(Violation(code, message))

    missing(Role.MOA, "moa_missing", "Ce marché n'a pas encore de maître d'ouvrage.")
    missing(Role.PAYING_OFFICE, "paying_office_missing", "Ce marché n'a pas encore de service financier.")
    if info.is_travaux:
        missing(Role.MOE, "moe_missing", "Ce marché de travaux n'a pas encore de maître d'œuvre.")
    if info.groupement == "none":
        missing(Role.TITULAIRE, "titulaire_missing", "Ce marché n'a pas encore de titulaire.")
    else:
        missing(Role.MANDATAIRE, "mandataire_missing", "Ce groupement n'a pas encore de mandataire.")
        missing(Role.COTRAITANT, "cotraitant_missing", "Ce groupement n'a pas encore de co-traitant.")
    return violations


def _check_unique_keys(parties: list[Party]) -> list[Violation]:
    seen: set[int] = set()
    violations = []
    for party in parties:
        if party.key in seen:
            violations.append(Violation("key_duplicate", "Cette partie figure deux fois dans la liste.", party.key))
        seen.add(party.key)
    return violations


# At most one party per role for these roles; the later ones (by key) are reported.
_SINGLE_ROLE_MESSAGES = {
    Role.MOA: ("moa_duplicate", "Ce marché a déjà un maître d'ouvrage."),
    Role.MOE: ("moe_duplicate", "Ce marché a déjà un maître d'œuvre."),
    Role.PAYING_OFFICE: ("paying_office_duplicate", "Ce marché a déjà un service financier."),
    Role.TITULAIRE: ("titulaire_duplicate", "Ce marché a déjà un titulaire."),
    Role.MANDATAIRE: ("mandataire_duplicate", "Ce groupement a déjà un mandataire."),
}


def _check_role_counts(parties: list[Party]) -> list[Violation]:
    violations = []
    for role, (code, message) in _SINGLE_ROLE_MESSAGES.items():
        for extra in _sorted_by_key(p for p in parties if p.role == role)[1:]:
            violations.append(Violation(code, message, extra.key))
    holders = _sorted_by_key(p for p in parties if p.role in Role.HOLDERS)
    if {p.role for p in holders} == set(Role.HOLDERS):
        violations.append(Violation(
            "titulaire_and_mandataire",
            "Un marché a soit un titulaire, soit un groupement représenté par un mandataire, pas les deux.",
            holders[-1].key,
        ))
    return violations


def _check_groupement(info: MarcheInfo, parties: list[Party]) -> list[Violation]:
    """Titulaire only without groupement, mandataire and co-traitants only with one, MOE only on works."""
    violations = []
    for party in _sorted_by_key(parties):
        if party.role == Role.TITULAIRE and info.groupement != "none":
            violations.append(Violation(
                "titulaire_in_groupement",
                "Ce marché est attribué à un groupement : il a un mandataire et des co-traitants, pas de titulaire.",
                party.key,
            ))
        elif party.role in (Role.MANDATAIRE, Role.COTRAITANT) and info.groupement == "none":
            violations.append(Violation(
                f"{party.role}_without_groupement",
                f"Ce marché n'est pas attribué à un groupement : il ne peut pas avoir de {ROLE_LABELS[party.role]}.",
                party.key,
            ))
        elif party.role == Role.MOE and not info.is_travaux:
            violations.append(Violation(
                "moe_not_travaux", "Seuls les marchés de travaux ont un maître d'œuvre.", party.key
            ))
    return violations


def _check_structure_once_per_role(parties: list[Party]) -> list[Violation]:
    seen: set[tuple[int, str]] = set()
    violations = []
    for party in _sorted_by_key(parties):
        pair = (party.structure_id, party.role)
        if pair in seen:
            violations.append(Violation(
                "structure_duplicate_role",
                f"{party.name} figure déjà sur ce marché en tant que {ROLE_LABELS[party.role]}.",
                party.key,
            ))
        seen.add(pair)
    return violations


def _check_parents(parties: list[Party]) -> list[Violation]:
    """Public roles and the holder have no parent; a co-traitant works under the mandataire; a sous-traitant under
    a titulaire, mandataire, co-traitant or sous-traitant of the same marché."""
    by_key = {p.key: p for p in parties}
    violations = []
    for party in _sorted_by_key(parties):
        violation = _parent_violation(party, by_key)
        if violation is not None:
            violations.append(violation)
    return violations


def _parent_violation(party: Party, by_key: dict[int, Party]) -> Violation | None:
    if party.role in Role.PUBLIC or party.role in Role.HOLDERS:
        if party.parent_key is None:
            return None
        return Violation(
            "parent_not_allowed",
            f"Un {ROLE_LABELS[party.role]} ne travaille pour aucune autre entreprise du marché.",
            party.key,
        )
    if party.role == Role.COTRAITANT:
        allowed, message = (Role.MANDATAIRE,), "Un co-traitant doit être rattaché au mandataire du groupement."
    else:
        allowed, message = Role.CONTRACTORS, (
            "Un sous-traitant doit être rattaché au titulaire, au mandataire, à un co-traitant "
            "ou à un autre sous-traitant du marché."
        )
    if party.parent_key is None:
        return Violation("parent_missing", message, party.key)
    contractor = by_key.get(party.parent_key)
    if contractor is None:
        return Violation(
            "parent_unknown", "L'entreprise donneuse d'ordre indiquée ne figure pas sur ce marché.", party.key
        )
    if contractor.role not in allowed:
        return Violation("parent_invalid", message, party.key)
    return None


def _check_cycles(parties: list[Party]) -> list[Violation]:
    """Each party has at most one parent, so cycles are disjoint; one violation per cycle, on its smallest key."""
    by_key = {p.key: p for p in parties}
    violations = []
    for cycle in nx.simple_cycles(_graph(parties)):
        names = ", ".join(by_key[key].name for key in sorted(cycle))
        violations.append(Violation(
            "cycle",
            f"Boucle de sous-traitance ({names}) : une entreprise ne peut pas être sa propre sous-traitante, "
            "même indirectement.",
            min(cycle),
        ))
    return sorted(violations, key=lambda v: v.party_key)


def _check_amounts(info: MarcheInfo, parties: list[Party]) -> list[Violation]:
    """No negative amount, and a contractor never subcontracts more than its own part."""
    violations = []
    for party in _sorted_by_key(parties):
        if party.montant_ttc is not None and party.montant_ttc < 0:
            violations.append(Violation("amount_negative", "Le montant doit être positif ou nul.", party.key))
    for contractor in _sorted_by_key(p for p in parties if p.role in Role.CONTRACTORS):
        part = _part(info, contractor)
        subcontracted = sum(
            (p.montant_ttc or Decimal(0) for p in parties
             if p.role == Role.SOUS_TRAITANT and p.parent_key == contractor.key),
            Decimal(0),
        )
        if part is not None and part >= 0 and subcontracted > part:  # a negative part is reported above
            violations.append(Violation(
                "amount_exceeds_part",
                f"Le montant sous-traité cumulé ({format_euros(subcontracted)} TTC) dépasse la part de "
                f"l'entreprise ({format_euros(part)} TTC).",
                contractor.key,
            ))
    return violations


def _part(info: MarcheInfo, contractor: Party) -> Decimal | None:
    """The contractor's own part of the marché: a titulaire without an amount holds the whole marché; a groupement
    member or sous-traitant without an amount has no known part yet (nothing to check against)."""
    if contractor.role == Role.TITULAIRE and contractor.montant_ttc is None:
        return info.montant_ttc
    return contractor.montant_ttc


def _sorted_by_key(parties: Any) -> list[Party]:
    return sorted(parties, key=lambda p: p.key)


# ---------------------------------------------------------------------------------------------------------------------
# Queries


def parent(chain: Chain, key: int) -> Party | None:
    """The contractor this party works under, or None (public side, titulaire, mandataire)."""
    party_key = chain.party(key).parent_key
    return None if party_key is None else chain.party(party_key)


def parties_by_role(chain: Chain, role: str) -> list[Party]:
    """The parties of a role, by key."""
    return _sorted_by_key(p for p in chain.parties.values() if p.role == role)


def descendants(chain: Chain, key: int) -> list[Party]:
    """Everyone working under this party, directly or not, by key."""
    chain.party(key)
    return [chain.party(k) for k in sorted(nx.descendants(chain.graph, key))]


def contractors_above(chain: Chain, key: int) -> list[Party]:
    """The contractors above this party, nearest first, up to the titulaire or mandataire. Empty for the public
    side and for the holder of the marché."""
    above = []
    current = parent(chain, key)
    while current is not None:
        above.append(current)
        current = parent(chain, current.key)
    return above


def rang(chain: Chain, key: int) -> int | None:
    """1 for a sous-traitant of the titulaire, mandataire or a co-traitant, 2 below a rang-1, ...; None otherwise."""
    if chain.party(key).role != Role.SOUS_TRAITANT:
        return None
    return sum(1 for p in contractors_above(chain, key) if p.role == Role.SOUS_TRAITANT) + 1


def paiement_direct(chain: Chain, key: int) -> bool:
    """Paid directly by the buyer: a rang-1 sous-traitant, DC4 accepted, with a part ≥ 600 € TTC [sure]."""
    party = chain.party(key)
    return (
        rang(chain, key) == 1
        and party.accepted
        and party.montant_ttc is not None
        and party.montant_ttc >= PAIEMENT_DIRECT_THRESHOLD_TTC
    )


def autoliquidation(chain: Chain, key: int) -> bool:
    """A sous-traitant on a works marché invoices without VAT; its contractor self-assesses it [sure]."""
    return chain.party(key).role == Role.SOUS_TRAITANT and chain.info.is_travaux


def allowed_cadres(chain: Chain, key: int) -> list[str]:
    """The cadres this party may deposit on this marché (see `CADRES_BY_ROLE`). Empty for the paying office, for a
    co-traitant when the mandataire bills for the whole groupement, and for a sous-traitant without paiement direct
    (it invoices its contractor privately: `route(chain, key, None)`)."""
    party = chain.party(key)
    if party.role == Role.COTRAITANT and chain.info.cotraitance_circuit == "mandataire_for_all":
        return []
    if party.role == Role.SOUS_TRAITANT and not paiement_direct(chain, key):
        return []
    return list(CADRES_BY_ROLE.get((party.role, chain.info.is_travaux), ()))


def route(chain: Chain, key: int, cadre: str | None) -> list[Step]:
    """Who acts, in order, on a piece of `cadre` deposited by this party (the deposit itself is not a step).

    `cadre=None` is the private route of a sous-traitant without paiement direct: one step, its contractor.
    Raises ValueError when the party may not use the cadre, IncompleteChainError (a ValueError) when the marché
    lacks a public party the route needs.
    """
    party = chain.party(key)
    if cadre is None:
        return [_private_step(chain, party)]
    if cadre not in allowed_cadres(chain, key):
        raise ValueError(_not_allowed_message(chain, party, cadre))
    steps: list[Step] = []
    for stage in ROUTE_RULES[cadre]:
        if stage == VALIDATORS:
            steps.extend(_validation_steps(chain, party))
        else:
            steps.append(_public_step(chain, stage))
    return steps


def _private_step(chain: Chain, party: Party) -> Step:
    if party.role != Role.SOUS_TRAITANT or paiement_direct(chain, party.key):
        raise ValueError(
            f"{party.name} ({ROLE_LABELS[party.role]}) n'a pas de facture privée à adresser à une entreprise "
            "donneuse d'ordre sur ce marché : seul un sous-traitant sans paiement direct en a une."
        )
    contractor = chain.party(party.parent_key)  # a sous-traitant always has one (check)
    return Step(contractor.key, contractor.siret, contractor.role, STEP_CONTRACTOR)


def _not_allowed_message(chain: Chain, party: Party, cadre: str) -> str:
    allowed = allowed_cadres(chain, party.key)
    label = CADRES[cadre].label if cadre in CADRES else "cadre inconnu"
    return (
        f"Le cadre {cadre} ({label}) n'est pas ouvert à {party.name} ({ROLE_LABELS[party.role]}) sur ce marché. "
        f"Cadres possibles : {', '.join(allowed) if allowed else 'aucun'}."
    )


def _validation_steps(chain: Chain, party: Party) -> list[Step]:
    """Validator 1 is the depositor's contractor; when that contractor is a co-traitant, validator 2 is the
    mandataire above it [assumed, CHORUS.md §3]. A co-traitant's own contractor is the mandataire: one validator."""
    contractor = chain.party(party.parent_key)
    steps = [Step(contractor.key, contractor.siret, contractor.role, "validation_1")]
    if contractor.role == Role.COTRAITANT:
        mandataire = chain.party(contractor.parent_key)
        steps.append(Step(mandataire.key, mandataire.siret, mandataire.role, "validation_2"))
    return steps


def _public_step(chain: Chain, stage: str) -> Step:
    role = _PUBLIC_STAGE_ROLE[stage]
    found = parties_by_role(chain, role)
    if not found:
        raise IncompleteChainError(f"Ce marché n'a pas encore de {ROLE_LABELS[role]}.")
    party = found[0]
    return Step(party.key, party.siret, party.role, stage)


def all_routes(chain: Chain) -> list[tuple[int, str | None, list[Step]]]:
    """Every route of the marché (the export's `routes`): one per (party, allowed cadre), plus the private route of
    each sous-traitant without paiement direct. By party key, then in the order of `allowed_cadres`.
    Raises IncompleteChainError on a marché that fails `check_complete`."""
    routes: list[tuple[int, str | None, list[Step]]] = []
    for key in sorted(chain.parties):
        for cadre in allowed_cadres(chain, key):
            routes.append((key, cadre, route(chain, key, cadre)))
        if chain.party(key).role == Role.SOUS_TRAITANT and not paiement_direct(chain, key):
            routes.append((key, None, route(chain, key, None)))
    return routes


def visible_structures(chain: Chain, key: int, cadre: str | None) -> set[int]:
    """The structures that may see a piece of `cadre` deposited by this party: the emitter, everyone on its route,
    and every contractor above the emitter. Never a sibling branch: the access rows of DESIGN.md §3.4.

    A private invoice (`cadre=None`: a sous-traitant without paiement direct to its contractor) is seen by its two
    parties only, never by the contractors further up (the mandataire above a rang-1): it is a private contract
    between them (loi 75-1334, art. 1 and 14: the rang-2's contract is with its rang-1, which pays it and answers for
    its payment with a caution), to which the mandataire is no party, and no rule of the marché gives it a right to
    read it (CONTRIBUTING, « Access »)."""
    structures = {chain.party(key).structure_id}
    structures.update(chain.party(step.party_key).structure_id for step in route(chain, key, cadre))
    if cadre is not None:
        structures.update(p.structure_id for p in contractors_above(chain, key))
    return structures


def to_tree(chain: Chain) -> dict[str, list[dict[str, Any]]]:
    """The chain as nested dicts, for drawing: {"public": [node, ...], "contractors": [node, ...]}, each node with
    its "children" (empty on the public side). The public side is in the order MOA, MOE, paying office; children
    are by key."""
    public = [p for role in Role.PUBLIC for p in parties_by_role(chain, role)]
    holders = [p for role in Role.HOLDERS for p in parties_by_role(chain, role)]
    return {
        "public": [_tree_node(chain, p) for p in public],
        "contractors": [_tree_node(chain, p) for p in holders],
    }


def _tree_node(chain: Chain, party: Party) -> dict[str, Any]:
    return {
        "key": party.key,
        "structure_id": party.structure_id,
        "siret": party.siret,
        "name": party.name,
        "role": party.role,
        "rang": rang(chain, party.key),
        "montant_ttc": party.montant_ttc,
        "paiement_direct": paiement_direct(chain, party.key),
        "autoliquidation": autoliquidation(chain, party.key),
        "cadres": allowed_cadres(chain, party.key),
        "children": [_tree_node(chain, chain.party(k)) for k in sorted(chain.graph.successors(party.key))],
    }
