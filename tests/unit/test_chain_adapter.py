"""The adapter between party rows and the pure graph (chorus_chain/operations/chain.py), and the parsing of a
marché's terms. No database: the rows are transient ORM objects."""
from __future__ import annotations

from decimal import Decimal

import pytest

from chorus_chain.graph import Role
from chorus_chain.models import Marche, MarcheParty
from chorus_chain.operations import OperationError
from chorus_chain.operations import chain as chain_ops
from chorus_chain.operations.marches import parse_decimal, parse_terms

SIRETS = {n: f"{n:014d}" for n in range(1, 20)}


def marche(**fields) -> Marche:
    values = dict(id=1, reference="M-1", objet="Travaux", kind="travaux", montant_ht=Decimal("1000000.00"),
                  tva_rate=Decimal("20.00"), groupement="conjoint", cotraitance_circuit="each", version=1)
    values.update(fields)
    return Marche(**values)


def row(id_, role, parent=None, montant=None, structure=None, status="confirmed", dc4=None, siret=None):
    return MarcheParty(id=id_, marche_id=1, structure_id=structure if structure is not None else id_ * 10,
                       siret=siret or SIRETS[id_], name=f"Partie {id_}", role=role, parent_id=parent,
                       montant_ttc=None if montant is None else Decimal(montant), status=status, dc4_status=dc4)


def demo_rows():
    return [
        row(1, Role.MOA), row(2, Role.PAYING_OFFICE, structure=10), row(3, Role.MOE),
        row(4, Role.MANDATAIRE, montant="800000"), row(5, Role.COTRAITANT, 4, "400000"),
        row(6, Role.SOUS_TRAITANT, 4, "96000", dc4="accepted"), row(7, Role.SOUS_TRAITANT, 5, "54000", dc4="tacit"),
        row(8, Role.SOUS_TRAITANT, 6, "18000", dc4="accepted"), row(9, Role.SOUS_TRAITANT, 4, "480", dc4="pending"),
    ]


def test_info_and_parties():
    info = chain_ops.to_info(marche())
    assert info.montant_ttc == Decimal("1200000.00") and info.is_travaux
    parties = {p.key: p for p in chain_ops.to_parties(demo_rows())}
    assert parties[6].accepted and parties[7].accepted and not parties[9].accepted  # tacit counts as accepted
    assert parties[4].accepted  # not a sous-traitant: nothing to accept
    assert parties[2].structure_id == parties[1].structure_id == 10  # the MOA's own paying office


def test_declined_rows_are_not_in_the_chain_and_invited_ones_are():
    rows = [*demo_rows(), row(10, Role.MOE, status="declined", structure=99),
            row(11, Role.SOUS_TRAITANT, 4, "100", status="invited", dc4="pending")]
    parties = {p.key: p for p in chain_ops.to_parties(rows)}
    assert 10 not in parties
    assert 11 in parties and not parties[11].confirmed


def test_unlinked_row_gets_a_pseudo_structure_from_its_siret():
    invited = row(10, Role.SOUS_TRAITANT, 4, "100", structure=None, status="invited", siret="12345678901234")
    invited.structure_id = None
    party = chain_ops.to_party(invited)
    assert party.structure_id == -12345678901234
    # The same SIRET twice in one role is caught by the graph even before the structure exists.
    twin = row(11, Role.SOUS_TRAITANT, 5, "100", status="invited", siret="12345678901234")
    twin.structure_id = None
    violation = chain_ops.first_violation(marche(), [*demo_rows(), invited, twin])
    assert violation.code == "structure_duplicate_role"


def test_would_be_rows_get_keys_above_the_existing_ones():
    new = row(19, Role.SOUS_TRAITANT, 4, "100")
    new.id = None
    parties = chain_ops.to_parties([*demo_rows(), new])
    assert parties[-1].key == 10 and parties[-1].parent_key == 4


def test_check_or_refuse_gives_the_first_french_message_and_its_field():
    second_moa = row(10, Role.MOA, structure=77)
    with pytest.raises(OperationError) as refused:
        chain_ops.check_or_refuse(marche(), [*demo_rows(), second_moa])
    assert refused.value.message == "Ce marché a déjà un maître d'ouvrage." and refused.value.field == "role"
    too_much = row(10, Role.SOUS_TRAITANT, 5, "350000")  # Martin's 400 000 € minus Bernard's 54 000 €
    with pytest.raises(OperationError) as refused:
        chain_ops.check_or_refuse(marche(), [*demo_rows(), too_much])
    assert "dépasse la part" in refused.value.message and refused.value.field == "montant_ttc"
    chain_ops.check_or_refuse(marche(), demo_rows())  # consistent: no exception


def test_visible_keys_full_view_and_branches():
    rows = demo_rows()
    chain = chain_ops.chain_of(marche(), rows)
    everything = set(chain.parties)
    by_id = {r.id: r for r in rows}
    assert chain_ops.visible_keys(chain, [by_id[1]]) == everything  # MOA
    assert chain_ops.visible_keys(chain, [by_id[3]]) == everything  # MOE
    assert chain_ops.visible_keys(chain, [by_id[4]]) == everything  # mandataire
    public = {1, 2, 3}
    assert chain_ops.visible_keys(chain, [by_id[8]]) == public | {8, 6, 4}  # rang 2: its contractors above
    assert chain_ops.visible_keys(chain, [by_id[6]]) == public | {6, 8, 4}  # rang 1: its own sous-traitant too
    assert chain_ops.visible_keys(chain, [by_id[5]]) == public | {5, 7, 4}  # co-traitant: never Leroy's branch
    assert chain_ops.visible_keys(chain, [by_id[7]]) == public | {7, 5, 4}
    assert chain_ops.visible_keys(chain, [by_id[2]]) == public  # a paying office alone: the public side
    assert chain_ops.visible_keys(chain, []) == set()


def test_prune_tree_keeps_only_the_branch():
    from chorus_chain.graph import to_tree

    rows = demo_rows()
    chain = chain_ops.chain_of(marche(), rows)
    tree = chain_ops.prune_tree(to_tree(chain), {1, 2, 3, 4, 5, 7})

    def keys(nodes):
        return [k for n in nodes for k in (n["key"], *keys(n["children"]))]

    assert keys(tree["public"]) == [1, 3, 2]
    assert keys(tree["contractors"]) == [4, 5, 7]


def test_sees_whole_chain():
    assert chain_ops.sees_whole_chain([row(1, Role.MOE)])
    assert chain_ops.sees_whole_chain([row(1, Role.TITULAIRE)])
    assert not chain_ops.sees_whole_chain([row(1, Role.COTRAITANT), row(2, Role.SOUS_TRAITANT)])
    assert not chain_ops.sees_whole_chain([row(1, Role.PAYING_OFFICE)])


# --- parsing the terms of a marché ------------------------------------------------------------------------------

TERMS = {"reference": "M-1", "objet": "Travaux", "kind": "travaux", "montant_ht": "1 200 000,00", "tva_rate": "20",
         "dgp_days": "30", "moe_days": "7", "retenue_rate": "5", "avance_rate": "5 %", "price_form": "revisable",
         "revision_a": "0,125", "revision_index": "bt01", "revision_base_month": "2025-01", "ccag_version": "2021",
         "groupement": "none", "cotraitance_circuit": "each"}


def test_parse_terms_reads_french_numbers():
    terms = parse_terms(TERMS)
    assert terms.montant_ht == Decimal("1200000.00")
    assert terms.avance_rate == Decimal("5.00") and terms.revision_a == Decimal("0.1250")
    assert terms.revision_index == "BT01" and terms.moe_days == 7


@pytest.mark.parametrize("field, value, message", [
    ("moe_days", "16", "15 jours au plus"),
    ("moe_days", "0", "de 1 à 15"),
    ("retenue_rate", "6", "ne peut dépasser 5 %"),
    ("dgp_days", "45", "30 jours"),
    ("engagement_number", "E" * 51, "50 caractères"),
    ("montant_ht", "douze", "Indiquez un nombre"),
    ("montant_ht", "12,345", "2 décimales au plus"),
    ("montant_ht", "-5", "positif"),
    ("revision_base_month", "2025-13", "AAAA-MM"),
    ("revision_a", "1,5", "entre 0 et 1"),
    ("avance_rate", "70", "60 %"),
    ("kind", "jardinage", "travaux, services ou fournitures"),
])
def test_parse_terms_refuses_with_a_field_level_french_message(field, value, message):
    with pytest.raises(OperationError) as refused:
        parse_terms({**TERMS, field: value})
    assert refused.value.field == field
    assert message in refused.value.message


def test_firm_price_drops_the_revision_formula():
    terms = parse_terms({**TERMS, "price_form": "ferme"})
    assert terms.revision_a is None and terms.revision_index is None and terms.revision_base_month is None


def test_parse_decimal():
    assert parse_decimal("1\u202f234,5\u00a0€", "x") == Decimal("1234.50")
    assert parse_decimal("", "x", optional=True) is None
    with pytest.raises(OperationError):
        parse_decimal("NaN", "x")
