"""The marché export, format `chorus-chain/marche-export/v1` (../shared/contracts/marche-export.md).

Everything comes from the database and the same chain the pages use; nothing is recomputed differently here.
Amounts are strings with two decimals, dates YYYY-MM-DD, instants ISO-8601 with offset, unknown values null.
This issue fills `marche`, `parties` and `routes`; the pieces come with a later issue.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chorus_chain import graph
from chorus_chain.graph import Role
from chorus_chain.models import Marche
from chorus_chain.operations import chain as chain_ops

FORMAT = "chorus-chain/marche-export/v1"


def _amount(value: Decimal | None, places: int = 2) -> str | None:
    if value is None:
        return None
    return f"{value.quantize(Decimal(1).scaleb(-places)):f}"


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def marche_export(marche: Marche, now: datetime) -> dict[str, Any]:
    rows = chain_ops.rows_of(marche)
    chain = chain_ops.chain_of(marche, rows)
    by_id = {row.id: row for row in rows}
    parties = []
    for key in sorted(chain.parties):
        row, party = by_id[key], chain.party(key)
        parent = graph.parent(chain, key)
        parties.append({
            "siret": row.siret,
            "name": row.name,
            "role": row.role,
            "parent_siret": parent.siret if parent else None,
            "rang": graph.rang(chain, key),
            "montant_ttc": _amount(party.montant_ttc),
            "paiement_direct": graph.paiement_direct(chain, key),
            "autoliquidation": graph.autoliquidation(chain, key),
            "accepted_on": _day(row.accepted_on) if row.role == Role.SOUS_TRAITANT else None,
        })
    return {
        "format": FORMAT,
        "exported_at": now.isoformat(),
        "marche": {
            "reference": marche.reference,
            "objet": marche.objet,
            "kind": marche.kind,
            "montant_ht": _amount(marche.montant_ht),
            "tva_rate": _amount(marche.tva_rate),
            "groupement": marche.groupement,
            "dgp_days": marche.dgp_days,
            "moe_days": marche.moe_days,
            "retenue_rate": _amount(marche.retenue_rate),
            "avance_rate": _amount(marche.avance_rate),
            "revision": {
                "a": _amount(marche.revision_a, 4),
                "index": marche.revision_index,
                "base_month": marche.revision_base_month,
            } if marche.has_revision else None,
        },
        "parties": parties,
        "routes": routes(chain),
        "pieces": [],
    }


def routes(chain: graph.Chain) -> list[dict[str, Any]]:
    """One entry per (party, cadre it may deposit), plus the private route of each sous-traitant without paiement
    direct. A route that needs a party the marché does not have yet (an incomplete marché) is left out."""
    entries = []
    for key in sorted(chain.parties):
        for cadre in chain_ops.deposit_cadres(chain, key):
            try:
                steps = graph.route(chain, key, cadre)
            except graph.IncompleteChainError:
                continue
            entries.append({
                "siret": chain.party(key).siret,
                "cadre": cadre,
                "steps": [{"siret": s.siret, "role": s.role, "step": s.step} for s in steps],
            })
    return entries
