"""Example-based tests of the chain graph on a demo-like marché.

The demo: a works marché awarded to a groupement conjoint. The commune is the MOA, its SGC the paying office, an
architect the MOE. M is the mandataire, C a co-traitant. ST1 (rang 1 under M, 120 000 €) and ST2 (rang 1 under C,
80 000 €) are in paiement direct; ST3 (rang 2 under ST1) and ST4 (rang 1 under M, 500 €) are not.
"""

from dataclasses import replace
from decimal import Decimal

import pytest

from chorus_chain.domain.cadres import CADRES
from chorus_chain.graph import (
    CADRES_BY_ROLE,
    PAIEMENT_DIRECT_THRESHOLD_TTC,
    ROUTE_RULES,
    IncompleteChainError,
    InvalidChainError,
    MarcheInfo,
    Party,
    Role,
    Step,
    all_routes,
    allowed_cadres,
    autoliquidation,
    build_chain,
    check,
    check_complete,
    contractors_above,
    descendants,
    format_euros,
    paiement_direct,
    parent,
    parties_by_role,
    rang,
    route,
    to_tree,
    visible_structures,
)

MOA, PAYING_OFFICE, MOE, M, C, ST1, ST2, ST3, ST4 = range(1, 10)
EUR = "\u00a0€"
THOUSANDS = "\u202f"


def siret(key: int) -> str:
    return f"{key:014d}"


def party(key, role, parent_key=None, montant=None, name=None, structure_id=None, accepted=True) -> Party:
    return Party(
        key=key,
        structure_id=key if structure_id is None else structure_id,
        siret=siret(structure_id or key),
        name=name or f"Partie {key}",
        role=role,
        parent_key=parent_key,
        montant_ttc=None if montant is None else Decimal(montant),
        accepted=accepted,
    )


WORKS = MarcheInfo("travaux", "conjoint", "each", Decimal("1200000.00"))


def demo_parties() -> list[Party]:
    return [
        party(MOA, Role.MOA, name="Commune de Villefranche"),
        party(PAYING_OFFICE, Role.PAYING_OFFICE, name="SGC de Villefranche"),
        party(MOE, Role.MOE, name="Atelier d'architecture Durand"),
        party(M, Role.MANDATAIRE, montant="700000", name="Bâtiments Martin"),
        party(C, Role.COTRAITANT, parent_key=M, montant="500000", name="Charpentes Colin"),
        party(ST1, Role.SOUS_TRAITANT, parent_key=M, montant="120000", name="Électricité Simon"),
        party(ST2, Role.SOUS_TRAITANT, parent_key=C, montant="80000", name="Couverture Thomas"),
        party(ST3, Role.SOUS_TRAITANT, parent_key=ST1, montant="30000", name="Câblage Petit"),
        party(ST4, Role.SOUS_TRAITANT, parent_key=M, montant="500", name="Nettoyage Roux"),
    ]


def demo_chain(info: MarcheInfo = WORKS, parties: list[Party] | None = None):
    return build_chain(info, demo_parties() if parties is None else parties)


def with_changed(parties: list[Party], key: int, **changes) -> list[Party]:
    return [replace(p, **changes) if p.key == key else p for p in parties]


def codes(violations) -> list[str]:
    return [v.code for v in violations]


def step(key: int, role: str, name: str) -> Step:
    return Step(key, siret(key), role, name)


# --- the demo is consistent and complete ---------------------------------------------------------------------------


def test_demo_is_consistent_and_complete():
    assert check(WORKS, demo_parties()) == []
    assert check_complete(WORKS, demo_parties()) == []


def test_graph_edges_go_from_contractor_to_worker():
    chain = demo_chain()
    assert set(chain.graph.edges) == {(M, C), (M, ST1), (M, ST4), (C, ST2), (ST1, ST3)}
    assert set(chain.graph.nodes) == set(range(1, 10))


# --- ranks and contractors -----------------------------------------------------------------------------------------


def test_rang():
    chain = demo_chain()
    assert [rang(chain, k) for k in (ST1, ST2, ST3, ST4)] == [1, 1, 2, 1]
    assert [rang(chain, k) for k in (MOA, PAYING_OFFICE, MOE, M, C)] == [None] * 5


def test_rang_three_deep():
    parties = [*demo_parties(), party(10, Role.SOUS_TRAITANT, parent_key=ST3, montant="1000")]
    assert rang(demo_chain(parties=parties), 10) == 3


def test_contractors_above_nearest_first():
    chain = demo_chain()
    keys = lambda k: [p.key for p in contractors_above(chain, k)]  # noqa: E731
    assert keys(ST3) == [ST1, M]
    assert keys(ST2) == [C, M]
    assert keys(ST1) == [M]
    assert keys(C) == [M]
    assert keys(M) == []
    assert keys(MOA) == []


def test_parent_descendants_and_roles():
    chain = demo_chain()
    assert parent(chain, ST2).key == C
    assert parent(chain, M) is None
    assert [p.key for p in descendants(chain, M)] == [C, ST1, ST2, ST3, ST4]
    assert [p.key for p in descendants(chain, C)] == [ST2]
    assert descendants(chain, MOA) == []
    assert [p.key for p in parties_by_role(chain, Role.SOUS_TRAITANT)] == [ST1, ST2, ST3, ST4]


def test_unknown_key_raises_key_error():
    with pytest.raises(KeyError):
        rang(demo_chain(), 99)


# --- paiement direct and autoliquidation ---------------------------------------------------------------------------


def test_paiement_direct():
    chain = demo_chain()
    assert paiement_direct(chain, ST1)
    assert paiement_direct(chain, ST2)
    assert not paiement_direct(chain, ST3)  # rang 2
    assert not paiement_direct(chain, ST4)  # 500 € < 600 €
    assert not paiement_direct(chain, M)
    assert not paiement_direct(chain, MOA)


@pytest.mark.parametrize(
    ("montant", "accepted", "expected"),
    [("600.00", True, True), ("599.99", True, False), ("600.00", False, False), (None, True, False)],
)
def test_paiement_direct_threshold_and_acceptance(montant, accepted, expected):
    parties = with_changed(
        demo_parties(), ST4, montant_ttc=None if montant is None else Decimal(montant), accepted=accepted
    )
    assert paiement_direct(demo_chain(parties=parties), ST4) is expected
    assert PAIEMENT_DIRECT_THRESHOLD_TTC == Decimal("600")


def test_autoliquidation_only_for_sous_traitants_on_works():
    chain = demo_chain()
    assert autoliquidation(chain, ST1)
    assert autoliquidation(chain, ST3)
    assert not autoliquidation(chain, M)
    assert not autoliquidation(chain, C)
    services = demo_chain(info=replace(WORKS, kind="services"), parties=_without(demo_parties(), MOE))
    assert not autoliquidation(services, ST1)


def _without(parties: list[Party], *keys: int) -> list[Party]:
    return [p for p in parties if p.key not in keys]


# --- allowed cadres ------------------------------------------------------------------------------------------------


def test_allowed_cadres_on_works():
    chain = demo_chain()
    assert allowed_cadres(chain, M) == ["A4", "A7", "A22", "A23", "A8"]
    assert allowed_cadres(chain, C) == ["A13", "A14"]
    assert allowed_cadres(chain, ST1) == ["A10"]
    assert allowed_cadres(chain, ST2) == ["A10"]
    assert allowed_cadres(chain, ST3) == []
    assert allowed_cadres(chain, ST4) == []
    assert allowed_cadres(chain, MOE) == ["A15", "A16", "A17", "A24"]
    assert allowed_cadres(chain, MOA) == ["A19", "A20", "A25"]
    assert allowed_cadres(chain, PAYING_OFFICE) == []


def test_allowed_cadres_on_services():
    chain = demo_chain(info=replace(WORKS, kind="services"), parties=_without(demo_parties(), MOE))
    assert allowed_cadres(chain, M) == ["A1", "A2"]
    assert allowed_cadres(chain, C) == ["A12"]
    assert allowed_cadres(chain, ST1) == ["A9"]
    assert allowed_cadres(chain, ST3) == []
    assert allowed_cadres(chain, MOA) == []  # A19/A25 are works pieces


def test_titulaire_cadres():
    parties = [
        party(MOA, Role.MOA),
        party(PAYING_OFFICE, Role.PAYING_OFFICE),
        party(MOE, Role.MOE),
        party(4, Role.TITULAIRE),
        party(5, Role.SOUS_TRAITANT, parent_key=4, montant="5000"),
    ]
    info = MarcheInfo("travaux", "none", "each", Decimal("100000"))
    assert allowed_cadres(build_chain(info, parties), 4) == ["A4", "A7", "A22", "A23", "A8"]
    assert allowed_cadres(build_chain(info, parties), 5) == ["A10"]
    services = replace(info, kind="fournitures")
    assert allowed_cadres(build_chain(services, parties[:2] + parties[3:]), 4) == ["A1", "A2"]


def test_no_cotraitant_cadre_when_the_mandataire_bills_for_all():
    chain = demo_chain(info=replace(WORKS, cotraitance_circuit="mandataire_for_all"))
    assert allowed_cadres(chain, C) == []
    assert allowed_cadres(chain, M) == ["A4", "A7", "A22", "A23", "A8"]
    assert allowed_cadres(chain, ST2) == ["A10"]  # the co-traitant's sous-traitant still bills in paiement direct


def test_cadre_tables_agree():
    """Every cadre a role may deposit exists, names that role as a depositor, and has a route."""
    assert set(CADRES) == {f"A{n}" for n in range(1, 26)} - {"A3", "A11", "A21"}
    for (role, _works), cadres in CADRES_BY_ROLE.items():
        for code in cadres:
            assert role in CADRES[code].depositor_roles, (role, code)
            assert code in ROUTE_RULES
    assert set(ROUTE_RULES) <= set(CADRES)


def test_cadre_labels():
    assert CADRES["A10"].label == "Projet de décompte mensuel de sous-traitant"
    assert CADRES["A9"].label == "Facture de sous-traitant (paiement direct)"
    assert CADRES["A4"].label == "Projet de décompte mensuel"
    assert CADRES["A15"].label == "État d'acompte"
    assert CADRES["A19"].label == "État d'acompte validé"
    assert CADRES["A10"].depositor_roles == ("sous_traitant",)
    assert {c.kind for c in CADRES.values()} == {"facture", "travaux"}


# --- routes --------------------------------------------------------------------------------------------------------

PUBLIC_WORKS_TAIL = [
    step(MOE, Role.MOE, "moe"),
    step(MOA, Role.MOA, "moa"),
    step(PAYING_OFFICE, Role.PAYING_OFFICE, "paiement"),
]


def test_route_sous_traitant_of_mandataire_a10():
    assert route(demo_chain(), ST1, "A10") == [step(M, Role.MANDATAIRE, "validation_1"), *PUBLIC_WORKS_TAIL]


def test_route_sous_traitant_of_cotraitant_a10_has_two_validators():
    assert route(demo_chain(), ST2, "A10") == [
        step(C, Role.COTRAITANT, "validation_1"),
        step(M, Role.MANDATAIRE, "validation_2"),
        *PUBLIC_WORKS_TAIL,
    ]


def test_route_cotraitant_a13_a14():
    chain = demo_chain()
    expected = [step(M, Role.MANDATAIRE, "validation_1"), *PUBLIC_WORKS_TAIL]
    assert route(chain, C, "A13") == expected
    assert route(chain, C, "A14") == expected


def test_routes_of_the_mandataire():
    chain = demo_chain()
    assert route(chain, M, "A4") == PUBLIC_WORKS_TAIL
    assert route(chain, M, "A7") == PUBLIC_WORKS_TAIL
    assert route(chain, M, "A22") == [step(MOA, Role.MOA, "moa")]
    assert route(chain, M, "A23") == [step(PAYING_OFFICE, Role.PAYING_OFFICE, "paiement")]
    assert route(chain, M, "A8") == [step(PAYING_OFFICE, Role.PAYING_OFFICE, "paiement")]


def test_routes_of_the_public_side():
    chain = demo_chain()
    paiement = step(PAYING_OFFICE, Role.PAYING_OFFICE, "paiement")
    moa = step(MOA, Role.MOA, "moa")
    assert route(chain, MOE, "A15") == [moa]  # validated, the MOA's A19 goes to the paying office
    assert route(chain, MOE, "A16") == [paiement]
    assert route(chain, MOE, "A17") == [moa]
    assert route(chain, MOE, "A24") == [moa]
    assert route(chain, MOA, "A19") == [paiement]
    assert route(chain, MOA, "A25") == [paiement]


def test_routes_on_services():
    chain = demo_chain(info=replace(WORKS, kind="services"), parties=_without(demo_parties(), MOE))
    paiement = step(PAYING_OFFICE, Role.PAYING_OFFICE, "paiement")
    assert route(chain, M, "A1") == [paiement]
    assert route(chain, M, "A2") == [paiement]
    assert route(chain, C, "A12") == [step(M, Role.MANDATAIRE, "validation_1"), paiement]
    assert route(chain, ST1, "A9") == [step(M, Role.MANDATAIRE, "validation_1"), paiement]
    assert route(chain, ST2, "A9") == [
        step(C, Role.COTRAITANT, "validation_1"),
        step(M, Role.MANDATAIRE, "validation_2"),
        paiement,
    ]


def test_private_routes():
    chain = demo_chain()
    assert route(chain, ST3, None) == [step(ST1, Role.SOUS_TRAITANT, "contractor")]
    assert route(chain, ST4, None) == [step(M, Role.MANDATAIRE, "contractor")]


@pytest.mark.parametrize(
    ("key", "cadre"),
    [(ST3, "A10"), (ST4, "A10"), (ST1, "A9"), (ST1, None), (M, None), (M, "A11"), (M, "A1"), (PAYING_OFFICE, "A1"),
     (C, "A4"), (MOA, "A15")],
)
def test_route_refuses_a_cadre_the_party_may_not_use(key, cadre):
    with pytest.raises(ValueError):
        route(demo_chain(), key, cadre)


def test_route_error_message_is_clear():
    with pytest.raises(ValueError, match=r"Le cadre A10 .* n'est pas ouvert à Câblage Petit \(sous-traitant\).*aucun"):
        route(demo_chain(), ST3, "A10")


def test_route_on_an_incomplete_marche():
    chain = demo_chain(parties=_without(demo_parties(), MOE))
    with pytest.raises(IncompleteChainError, match="maître d'œuvre"):
        route(chain, M, "A4")
    assert route(chain, M, "A8") == [step(PAYING_OFFICE, Role.PAYING_OFFICE, "paiement")]


def test_all_routes():
    chain = demo_chain()
    routes = all_routes(chain)
    pairs = [(key, cadre) for key, cadre, _steps in routes]
    assert pairs == [
        (MOA, "A19"), (MOA, "A20"), (MOA, "A25"),
        (MOE, "A15"), (MOE, "A16"), (MOE, "A17"), (MOE, "A24"),
        (M, "A4"), (M, "A7"), (M, "A22"), (M, "A23"), (M, "A8"),
        (C, "A13"), (C, "A14"),
        (ST1, "A10"), (ST2, "A10"),
        (ST3, None), (ST4, None),
    ]
    for key, cadre, steps in routes:
        assert steps == route(chain, key, cadre)


# --- visibility ----------------------------------------------------------------------------------------------------


def test_visibility_of_a_sous_traitant_of_the_cotraitant():
    visible = visible_structures(demo_chain(), ST2, "A10")
    assert visible == {ST2, C, M, MOE, MOA, PAYING_OFFICE}
    assert not visible & {ST1, ST3, ST4}  # the mandataire's sous-traitants are a sibling branch


def test_visibility_of_a_sous_traitant_of_the_mandataire():
    visible = visible_structures(demo_chain(), ST1, "A10")
    assert visible == {ST1, M, MOE, MOA, PAYING_OFFICE}
    assert C not in visible and ST2 not in visible
    assert ST3 not in visible  # its own sous-traitant does not see its invoices either


def test_visibility_of_a_private_invoice():
    """Its two parties only: the mandataire above a rang-1 is no party to the rang-2's private contract."""
    assert visible_structures(demo_chain(), ST3, None) == {ST3, ST1}
    assert visible_structures(demo_chain(), ST4, None) == {ST4, M}


def test_a_cotraitant_never_sees_another_cotraitants_sous_traitant():
    parties = [
        *demo_parties(),
        party(10, Role.COTRAITANT, parent_key=M, montant="100000", name="Plomberie Garnier"),
        party(11, Role.SOUS_TRAITANT, parent_key=10, montant="20000", name="Chauffage Faure"),
    ]
    chain = demo_chain(parties=parties)
    visible = visible_structures(chain, 11, "A10")
    assert visible == {11, 10, M, MOE, MOA, PAYING_OFFICE}
    assert C not in visible and ST2 not in visible
    assert 10 not in visible_structures(chain, ST2, "A10")
    assert 10 not in visible_structures(chain, C, "A13")


def test_visibility_is_by_structure():
    """The commune is both MOA and paying office: one structure, one entry."""
    parties = with_changed(demo_parties(), PAYING_OFFICE, structure_id=MOA)
    assert visible_structures(demo_chain(parties=parties), M, "A4") == {M, MOE, MOA}


# --- violations ----------------------------------------------------------------------------------------------------


def test_second_moa():
    violations = check(WORKS, [*demo_parties(), party(10, Role.MOA, name="Département")])
    assert codes(violations) == ["moa_duplicate"]
    assert violations[0].message_fr == "Ce marché a déjà un maître d'ouvrage."
    assert violations[0].party_key == 10


@pytest.mark.parametrize(
    ("role", "code"),
    [(Role.MOE, "moe_duplicate"), (Role.PAYING_OFFICE, "paying_office_duplicate"),
     (Role.MANDATAIRE, "mandataire_duplicate")],
)
def test_second_of_a_single_role(role, code):
    assert codes(check(WORKS, [*demo_parties(), party(10, role)])) == [code]


def test_cycle():
    parties = with_changed(demo_parties(), ST1, parent_key=ST3)
    violations = check(WORKS, parties)
    assert "cycle" in codes(violations)
    cycle = next(v for v in violations if v.code == "cycle")
    assert cycle.party_key == ST1
    assert "Électricité Simon" in cycle.message_fr and "Câblage Petit" in cycle.message_fr
    with pytest.raises(InvalidChainError) as error:
        build_chain(WORKS, parties)
    assert "cycle" in codes(error.value.violations)


def test_self_parent_is_a_cycle():
    assert "cycle" in codes(check(WORKS, with_changed(demo_parties(), ST4, parent_key=ST4)))


@pytest.mark.parametrize(
    ("key", "parent_key", "code"),
    [
        (C, ST1, "parent_invalid"),  # a co-traitant works under the mandataire
        (C, None, "parent_missing"),
        (ST2, MOE, "parent_invalid"),  # the public side subcontracts nothing
        (ST2, MOA, "parent_invalid"),
        (ST2, None, "parent_missing"),
        (ST2, 99, "parent_unknown"),
        (MOA, M, "parent_not_allowed"),
        (PAYING_OFFICE, MOA, "parent_not_allowed"),
        (M, C, "parent_not_allowed"),
    ],
)
def test_invalid_parents(key, parent_key, code):
    violations = check(WORKS, with_changed(demo_parties(), key, parent_key=parent_key))
    assert code in codes(violations)
    assert next(v for v in violations if v.code == code).party_key == key


def test_amount_beyond_the_contractors_part():
    parties = with_changed(demo_parties(), ST1, montant_ttc=Decimal("10000"))
    parties = with_changed(parties, ST3, montant_ttc=Decimal("12000"))
    violations = check(WORKS, parties)
    assert codes(violations) == ["amount_exceeds_part"]
    assert violations[0].party_key == ST1
    assert violations[0].message_fr == (
        f"Le montant sous-traité cumulé (12{THOUSANDS}000,00{EUR} TTC) "
        f"dépasse la part de l'entreprise (10{THOUSANDS}000,00{EUR} TTC)."
    )


def test_amounts_are_summed_over_the_direct_sous_traitants():
    # M (700 000) already subcontracts 120 000 + 500; 579 500 more fits exactly, one cent more does not.
    fits = [*demo_parties(), party(10, Role.SOUS_TRAITANT, parent_key=M, montant="579500.00")]
    assert check(WORKS, fits) == []
    over = [*demo_parties(), party(10, Role.SOUS_TRAITANT, parent_key=M, montant="579500.01")]
    assert codes(check(WORKS, over)) == ["amount_exceeds_part"]


def test_a_titulaire_without_amount_holds_the_whole_marche():
    info = MarcheInfo("travaux", "none", "each", Decimal("100000"))
    base = [party(1, Role.MOA), party(2, Role.PAYING_OFFICE), party(3, Role.MOE), party(4, Role.TITULAIRE)]
    assert check(info, [*base, party(5, Role.SOUS_TRAITANT, parent_key=4, montant="100000")]) == []
    over = check(info, [*base, party(5, Role.SOUS_TRAITANT, parent_key=4, montant="100000.01")])
    assert codes(over) == ["amount_exceeds_part"]
    assert "100\u202f000,00\u00a0€ TTC" in over[0].message_fr


def test_negative_amount():
    assert codes(check(WORKS, with_changed(demo_parties(), ST4, montant_ttc=Decimal("-1")))) == ["amount_negative"]


def test_moe_on_services():
    violations = check(replace(WORKS, kind="services"), demo_parties())
    assert codes(violations) == ["moe_not_travaux"]
    assert violations[0].party_key == MOE


def test_same_structure_twice_in_one_role():
    parties = [*demo_parties(), party(10, Role.SOUS_TRAITANT, parent_key=C, montant="1000", structure_id=ST1,
                                      name="Électricité Simon")]
    violations = check(WORKS, parties)
    assert codes(violations) == ["structure_duplicate_role"]
    assert violations[0].party_key == 10
    assert violations[0].message_fr == "Électricité Simon figure déjà sur ce marché en tant que sous-traitant."


def test_same_structure_in_two_roles_is_fine():
    parties = [*demo_parties(), party(10, Role.SOUS_TRAITANT, parent_key=C, montant="1000", structure_id=M)]
    assert check(WORKS, parties) == []


def test_groupement_rules():
    titulaire = party(10, Role.TITULAIRE)
    assert codes(check(WORKS, [*demo_parties(), titulaire])) == ["titulaire_and_mandataire", "titulaire_in_groupement"]
    alone = replace(WORKS, groupement="none")
    assert codes(check(alone, demo_parties())) == ["mandataire_without_groupement", "cotraitant_without_groupement"]
    two_titulaires = [party(1, Role.MOA), party(2, Role.TITULAIRE), party(3, Role.TITULAIRE)]
    assert codes(check(alone, two_titulaires)) == ["titulaire_duplicate"]


def test_duplicate_key():
    assert codes(check(WORKS, [*demo_parties(), party(ST4, Role.MOA)])) == ["key_duplicate"]


def test_build_chain_refuses_an_inconsistent_chain():
    with pytest.raises(InvalidChainError, match="Ce marché a déjà un maître d'ouvrage."):
        build_chain(WORKS, [*demo_parties(), party(10, Role.MOA)])


def test_check_complete():
    assert codes(check_complete(WORKS, [])) == [
        "moa_missing", "paying_office_missing", "moe_missing", "mandataire_missing", "cotraitant_missing",
    ]
    services = MarcheInfo("services", "none", "each", Decimal("1000"))
    assert codes(check_complete(services, [party(1, Role.MOA), party(2, Role.PAYING_OFFICE)])) == [
        "titulaire_missing"
    ]
    only_mandataire = _without(demo_parties(), C, ST2)
    assert codes(check_complete(WORKS, only_mandataire)) == ["cotraitant_missing"]
    # consistency violations come first, then what is missing
    assert codes(check_complete(WORKS, [party(1, Role.MOA), party(2, Role.MOA)])) == [
        "moa_duplicate", "paying_office_missing", "moe_missing", "mandataire_missing", "cotraitant_missing",
    ]


# --- values --------------------------------------------------------------------------------------------------------


def test_values_refuse_bad_input():
    with pytest.raises(ValueError):
        MarcheInfo("batiment", "none", "each", Decimal("1"))
    with pytest.raises(ValueError):
        MarcheInfo("travaux", "oui", "each", Decimal("1"))
    with pytest.raises(ValueError):
        MarcheInfo("travaux", "none", "sometimes", Decimal("1"))
    with pytest.raises(TypeError):
        MarcheInfo("travaux", "none", "each", 1000.0)
    with pytest.raises(ValueError):
        party(1, "architecte")
    with pytest.raises(TypeError):
        Party(1, 1, siret(1), "X", Role.SOUS_TRAITANT, None, 600.0)


def test_format_euros():
    assert format_euros(Decimal("12000")) == f"12{THOUSANDS}000,00{EUR}"
    assert format_euros(Decimal("1234567.891")) == f"1{THOUSANDS}234{THOUSANDS}567,89{EUR}"
    assert format_euros(Decimal("0.005")) == f"0,01{EUR}"  # half-up
    assert format_euros(Decimal("999.99")) == f"999,99{EUR}"


# --- tree ----------------------------------------------------------------------------------------------------------


def test_to_tree():
    tree = to_tree(demo_chain())
    assert [node["key"] for node in tree["public"]] == [MOA, MOE, PAYING_OFFICE]
    [mandataire] = tree["contractors"]
    assert mandataire["key"] == M
    assert [child["key"] for child in mandataire["children"]] == [C, ST1, ST4]
    cotraitant, st1, st4 = mandataire["children"]
    assert [child["key"] for child in cotraitant["children"]] == [ST2]
    assert [child["key"] for child in st1["children"]] == [ST3]
    assert st1["rang"] == 1 and st1["paiement_direct"] and st1["autoliquidation"] and st1["cadres"] == ["A10"]
    assert st1["children"][0]["rang"] == 2
    assert st4["paiement_direct"] is False and st4["montant_ttc"] == Decimal("500")
