"""Whether a PDM draft can be sent from its décompte as the user sees it now, and if not, why (in French).

The décompte page offers « Envoyer la pièce » only when nothing stops it: the piece's own pre-flight check (route,
routing, bank account, main PDF…) and the décompte as typed — its figures readable, every line beyond 100 % or
going backwards justified, an amount above zero. The figures the décompte will save replace the draft's amounts, so
the pre-flight check's amount and décompte findings are judged on the typed sheet instead. Read-only.
"""
from __future__ import annotations

from datetime import datetime

from chorus_chain.models import Piece
from chorus_chain.operations import decomptes
from chorus_chain.operations import pieces_drafts

# The pre-flight findings the décompte's save settles (it sets the amounts and stores the lines).
_SETTLED_BY_SAVE = frozenset({"decompte", "montant_ht", "montant_tva", "montant_ttc"})


def send_problems(piece: Piece, sheet: decomptes.Sheet, now: datetime) -> list[pieces_drafts.Problem]:
    """What stops sending this draft with the décompte `sheet` (as typed); empty: it can be sent."""
    problems = [p for p in pieces_drafts.preflight(piece, now) if p.field not in _SETTLED_BY_SAVE]
    if sheet.amount_error:
        problems.append(pieces_drafts.Problem(sheet.amount_error, "decompte"))
    elif sheet.amount is None or sheet.amount.montant_ht <= 0:
        problems.append(pieces_drafts.Problem(
            "Saisissez le cumul à ce jour des lignes exécutées : ce projet de décompte ne réclame rien ce mois-ci.",
            "decompte"))
    for row in sheet.rows:
        if row.unjustified:
            problems.append(pieces_drafts.Problem(
                f"Ligne {row.line.reference} : justifiez son cumul (au-delà de 100 % ou en baisse).", "decompte"))
        problems += [pieces_drafts.Problem(f"Ligne {row.line.reference} : {p.message_fr}", "decompte")
                     for p in row.problems if not p.justifiable]
    return problems
