"""Rights of a member per domain (Chorus Pro's model): none, consultation or modification."""
from __future__ import annotations

DOMAINS = ("emises", "travaux", "recues", "organisation")
LEVELS = ("none", "consultation", "modification")

DOMAIN_LABELS = {
    "emises": "Factures émises",
    "travaux": "Factures de travaux",
    "recues": "Factures reçues",
    "organisation": "Organisation (utilisateurs, services, coordonnées bancaires)",
}
LEVEL_LABELS = {"none": "Aucun accès", "consultation": "Consultation", "modification": "Modification"}

_RANK = {level: i for i, level in enumerate(LEVELS)}

GESTIONNAIRE_RIGHTS = {d: "modification" for d in DOMAINS}
DEFAULT_MEMBER_RIGHTS = {"emises": "consultation", "travaux": "consultation", "recues": "consultation",
                         "organisation": "none"}


def allows(granted: str, needed: str) -> bool:
    """True when the granted level covers the needed one (modification covers consultation)."""
    return _RANK[granted] >= _RANK[needed]


def effective_rights(member_rights: dict[str, str], is_gestionnaire: bool) -> dict[str, str]:
    """The gestionnaire principal holds every right, whatever its row says."""
    return dict(GESTIONNAIRE_RIGHTS) if is_gestionnaire else dict(member_rights)
