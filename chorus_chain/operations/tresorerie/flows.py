"""One amount expected in or out, as the page, the chart and the downloads show it. Pure."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from chorus_chain.operations.tresorerie.forecast import Expectation
from chorus_chain.operations.tresorerie.periods import slip

KIND_LABELS = {
    "piece": "Pièce en cours",
    "line": "Ligne d'un état d'acompte validé",
    "etat": "État d'acompte émis, à valider",
    "private": "Facture privée",
    "retenue": "Retenue de garantie",
}


@dataclass(frozen=True)
class Flow:
    incoming: bool  # True: money the structure receives; False: money it pays
    kind: str  # a key of KIND_LABELS
    marche_id: int
    marche_reference: str
    counterpart: str  # who pays it (incoming) or whom it is paid to (outgoing)
    label: str  # what it is: « Projet de décompte PDM-05 », « État d'acompte n° 4, ligne de Durand »
    amount: Decimal
    amount_basis: str  # where the figure comes from (« montant demandé TTC », « ligne de l'état d'acompte »)
    stage_now: str  # where the money stands now, in French
    expectation: Expectation
    legal_due: date | None  # the last day the law allows (None: no legal date)
    domain: str = "travaux"  # the rights domain a member needs to read it (travaux, emises, recues)
    piece_id: int | None = None
    etat_id: int | None = None
    interest: Decimal | None = None  # late-payment interest + flat fee if paid on the expected day (engine)
    key: str = ""  # the same amount from one day to the next (« piece:12 », « etat:3:41 », « line:7 »): slips

    @property
    def expected(self) -> date:
        return self.expectation.expected

    @property
    def low(self) -> date:
        return self.expectation.low

    @property
    def high(self) -> date:
        return self.expectation.high

    @property
    def explanation(self) -> str:
        return self.expectation.explanation

    @property
    def slip_days(self) -> int:
        return slip(self.expected, self.legal_due)

    @property
    def direction(self) -> str:
        return "Encaissement" if self.incoming else "Décaissement"
