"""Property tests of the chain graph on random valid chains.

A generated chain has the public side (MOA, paying office — sometimes the same structure —, and an MOE on works),
a titulaire or a groupement (mandataire + 1 to 3 co-traitants), and up to 10 sous-traitants, each placed under a
random contractor already in the chain with an amount within what that contractor still has to subcontract. Structure
ids differ from party keys (1000 + key) so that the two are never confused, and a sous-traitant sometimes reuses the
structure of a groupement member (a structure may hold several roles).

Where routes end (the documented exceptions of `ROUTE_RULES`):
- a private route (sous-traitant without paiement direct, cadre None) ends at its contractor, step "contractor";
- A17 (PDG by the MOE), A22 (tacit PDG) and A24 (tacit DGD by the MOE) end at the MOA, step "moa": the MOA answers
  with a piece of its own (or its silence is the answer);
- every other route ends at the paying office, step "paiement".
"""

from dataclasses import replace
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chorus_chain.graph import (
    MarcheInfo,
    Party,
    Role,
    all_routes,
    allowed_cadres,
    build_chain,
    check,
    check_complete,
    contractors_above,
    descendants,
    paiement_direct,
    parent,
    rang,
    visible_structures,
)

ENDS_AT_MOA = {"A15", "A17", "A20", "A22", "A24"}
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def euros(cents: int) -> Decimal:
    return Decimal(cents) / 100


def siret(structure_id: int) -> str:
    return f"{structure_id:014d}"


def new_party(key: int, role: str, parent_key=None, cents=None, structure_id=None, accepted=True) -> Party:
    structure_id = 1000 + key if structure_id is None else structure_id
    return Party(
        key=key,
        structure_id=structure_id,
        siret=siret(structure_id),
        name=f"{role} {key}",
        role=role,
        parent_key=parent_key,
        montant_ttc=None if cents is None else euros(cents),
        accepted=accepted,
    )


@st.composite
def valid_chains(draw) -> tuple[MarcheInfo, list[Party]]:
    kind = draw(st.sampled_from(["travaux", "services", "fournitures"]))
    groupement = draw(st.sampled_from(["none", "conjoint", "solidaire"]))
    circuit = draw(st.sampled_from(["each", "mandataire_for_all"]))
    total = draw(st.integers(1_000_00, 10_000_000_00))
    info = MarcheInfo(kind, groupement, circuit, euros(total))

    parties = [new_party(1, Role.MOA)]
    shared_office = draw(st.booleans())
    parties.append(new_party(2, Role.PAYING_OFFICE, structure_id=1001 if shared_office else None))
    if kind == "travaux":
        parties.append(new_party(3, Role.MOE))
    key = 10

    remaining: dict[int, int] = {}  # cents each contractor may still subcontract
    if groupement == "none":
        own = draw(st.none() | st.integers(0, total))
        parties.append(new_party(key, Role.TITULAIRE, cents=own))
        remaining[key] = total if own is None else own
        mandataire = key
        key += 1
    else:
        mandataire = key
        part = draw(st.integers(0, total))
        parties.append(new_party(key, Role.MANDATAIRE, cents=part))
        remaining[key] = part
        key += 1
        for _ in range(draw(st.integers(1, 3))):
            part = draw(st.integers(0, total))
            parties.append(new_party(key, Role.COTRAITANT, parent_key=mandataire, cents=part))
            remaining[key] = part
            key += 1

    members = [p.structure_id for p in parties if p.role in (Role.MANDATAIRE, Role.COTRAITANT, Role.TITULAIRE)]
    used_as_sous_traitant: set[int] = set()
    for _ in range(draw(st.integers(0, 10))):
        contractor = draw(st.sampled_from(sorted(remaining)))
        capacity = remaining[contractor]
        # Small amounts are likely, so that some rang-1 sous-traitants fall under the paiement direct threshold.
        cents = draw(st.integers(0, min(capacity, 1_000_00)) | st.integers(0, capacity))
        structure_id = None
        reusable = [s for s in members if s not in used_as_sous_traitant]
        if reusable and draw(st.integers(0, 4)) == 0:
            structure_id = draw(st.sampled_from(reusable))
        sous_traitant = new_party(
            key, Role.SOUS_TRAITANT, parent_key=contractor, cents=cents, structure_id=structure_id,
            accepted=draw(st.booleans()),
        )
        parties.append(sous_traitant)
        used_as_sous_traitant.add(sous_traitant.structure_id)
        remaining[contractor] -= cents
        remaining[key] = cents
        key += 1
    return info, parties


def keys(parties) -> set[int]:
    return {p.key for p in parties}


# --- consistency ---------------------------------------------------------------------------------------------------


@PROPERTY
@given(valid_chains())
def test_generated_chains_are_consistent_and_complete(chain_input):
    info, parties = chain_input
    assert check(info, parties) == []
    assert check_complete(info, parties) == []


@PROPERTY
@given(valid_chains())
def test_a_second_moa_is_a_violation(chain_input):
    info, parties = chain_input
    second = new_party(999, Role.MOA)
    assert "moa_duplicate" in [v.code for v in check(info, [*parties, second])]


@PROPERTY
@given(valid_chains(), st.data())
def test_a_cycle_creating_parent_is_a_violation(chain_input, data):
    """Re-parent a sous-traitant under itself or one of its descendants: that closes a loop."""
    info, parties = chain_input
    chain = build_chain(info, parties)
    sous_traitants = [p for p in parties if p.role == Role.SOUS_TRAITANT]
    if not sous_traitants:
        return
    moved = data.draw(st.sampled_from(sous_traitants))
    new_parent = data.draw(st.sampled_from([moved.key, *sorted(keys(descendants(chain, moved.key)))]))
    changed = [replace(p, parent_key=new_parent) if p.key == moved.key else p for p in parties]
    assert "cycle" in [v.code for v in check(info, changed)]


# --- ranks ---------------------------------------------------------------------------------------------------------


@PROPERTY
@given(valid_chains())
def test_rang_grows_by_one_per_level(chain_input):
    chain = build_chain(*chain_input)
    for party in chain.parties.values():
        if party.role != Role.SOUS_TRAITANT:
            assert rang(chain, party.key) is None
            continue
        contractor = chain.party(party.parent_key)
        if contractor.role == Role.SOUS_TRAITANT:
            assert rang(chain, party.key) == rang(chain, contractor.key) + 1
        else:
            assert rang(chain, party.key) == 1


@PROPERTY
@given(valid_chains())
def test_a_sous_traitant_has_cadres_or_a_private_route_never_both(chain_input):
    chain = build_chain(*chain_input)
    private = {key for key, cadre, _steps in all_routes(chain) if cadre is None}
    for party in chain.parties.values():
        if party.role != Role.SOUS_TRAITANT:
            assert party.key not in private
            continue
        direct = paiement_direct(chain, party.key)
        assert direct == (rang(chain, party.key) == 1 and party.accepted and party.montant_ttc >= Decimal("600"))
        assert bool(allowed_cadres(chain, party.key)) == direct
        assert (party.key in private) == (not direct)


# --- routes --------------------------------------------------------------------------------------------------------


@PROPERTY
@given(valid_chains())
def test_every_route_ends_where_it_should(chain_input):
    chain = build_chain(*chain_input)
    for _key, cadre, steps in all_routes(chain):
        assert steps
        last = steps[-1]
        if cadre is None:
            assert (last.step, last.role) == ("contractor", chain.party(last.party_key).role)
            assert len(steps) == 1
        elif cadre in ENDS_AT_MOA:
            assert (last.step, last.role) == ("moa", Role.MOA)
        else:
            assert (last.step, last.role) == ("paiement", Role.PAYING_OFFICE)


@PROPERTY
@given(valid_chains())
def test_every_validator_is_a_contractor_above_the_depositor(chain_input):
    chain = build_chain(*chain_input)
    for key, _cadre, steps in all_routes(chain):
        above = [p.key for p in contractors_above(chain, key)]
        private_steps = [s for s in steps if s.step in ("validation_1", "validation_2", "contractor")]
        assert [s.party_key for s in private_steps] == above[: len(private_steps)]  # nearest first, in order
        for s in steps:
            if s.step not in ("validation_1", "validation_2", "contractor"):
                assert s.role in Role.PUBLIC


# --- visibility ----------------------------------------------------------------------------------------------------


@PROPERTY
@given(valid_chains())
def test_no_sibling_branch_ever_sees_a_piece(chain_input):
    """A structure that is neither the emitter, nor above or below it, nor on the route never sees the piece (unless
    it holds one of those places under another role)."""
    chain = build_chain(*chain_input)
    for key, cadre, steps in all_routes(chain):
        visible = visible_structures(chain, key, cadre)
        related = {key} | keys(contractors_above(chain, key)) | keys(descendants(chain, key))
        related |= {s.party_key for s in steps}
        related_structures = {chain.party(k).structure_id for k in related}
        for party in chain.parties.values():
            if party.key not in related and party.structure_id not in related_structures:
                assert party.structure_id not in visible, (key, cadre, party)
        assert chain.party(key).structure_id in visible
        assert {chain.party(s.party_key).structure_id for s in steps} <= visible


@PROPERTY
@given(valid_chains())
def test_a_private_invoice_is_seen_by_its_two_parties_only(chain_input):
    """A sous-traitant without paiement direct invoices its contractor privately: nobody else, not even the
    contractors further up, sees that invoice."""
    chain = build_chain(*chain_input)
    for key, cadre, _ in all_routes(chain):
        if cadre is None:
            contractor = parent(chain, key)
            assert visible_structures(chain, key, None) == {chain.party(key).structure_id, contractor.structure_id}
