"""Structures (the public directory, by SIRET), the marchés a structure sees, a marché's fiche d'identité (the cadres
it may deposit and where each piece goes) and its états d'acompte as JSON. The portal's operations, read as the
client's structure."""
from __future__ import annotations

from flask import g
from sqlalchemy import select

from chorus_chain.api import schemas as S
from chorus_chain.api.core import api_blueprint, require
from chorus_chain.api.problems import problem
from chorus_chain.extensions import db
from chorus_chain.models import EtatAcompte, Service, Structure
from chorus_chain.operations import etats_acompte as etats
from chorus_chain.operations import pieces_drafts as drafts
from chorus_chain.operations.marches import access_for, identity_sheet, marches_of

bp = api_blueprint("api_marches", "", "Structures, marchés, fiche d'identité, états d'acompte.")
VIEW = ("travaux", "consultation")  # the marché pages' right in the portal



@bp.get("/structures/<string(length=14):siret>")
@bp.response(200, S.StructureOut)
@bp.problems(401, 404, 429)
def structure(siret: str):
    """Une structure par son SIRET et ses services actifs (l'annuaire public, comme sur Chorus Pro)."""
    found = db.session.scalar(select(Structure).where(Structure.siret == siret))
    if found is None:
        return problem(404, "Aucune structure n'a ce SIRET.")
    services = db.session.scalars(select(Service).where(Service.structure_id == found.id, Service.active.is_(True))
                                  .order_by(Service.code)).all()
    return {"siret": found.siret, "nom": found.name, "publique": found.is_public,
            "exigence_routage": found.routing_requirement,
            "services": [{"code": s.code, "nom": s.name, "engagement_obligatoire": s.engagement_required}
                         for s in services]}


@bp.get("/marches")
@bp.response(200, S.MarcheList)
@bp.problems(401, 403, 429)
@require(*VIEW)
def marches():
    """Les marchés où la structure a un rôle confirmé, avec ses rôles."""
    return {"items": [{"id": m.id, "reference": m.reference, "objet": m.objet, "nature": m.kind,
                       "roles": [row.role for row in rows]} for m, rows in marches_of(g.structure)]}


def _access(marche_id: int):
    access = access_for(g.structure, marche_id)
    return access if access is not None and access.confirmed else None


@bp.get("/marches/<int:marche_id>")
@bp.response(200, S.MarcheDetail)
@bp.problems(401, 403, 404, 429)
@require(*VIEW)
def marche(marche_id: int):
    """Un marché : la chaîne que la structure voit, la fiche d'identité (cadres et données de routage) et ce
    qu'elle peut y déposer."""
    access = _access(marche_id)
    if access is None:
        return problem(404)
    m = access.marche
    sheet = [{"partie_id": e["row"].id, "cadre": e["cadre"], "cadre_libelle": e["cadre_label"],
              "siret_destinataire": e["recipient"].siret if e["recipient"] else None,
              "code_service": e["service_code"], "numero_engagement": e["engagement_number"],
              "etapes": [{"etape": s["step"], "siret": s["row"].siret if s["row"] else None,
                          "nom": s["row"].name if s["row"] else None, "role": s["role_label"]} for s in e["steps"]],
              "probleme": e["problem"]} for e in identity_sheet(access)]
    return {"id": m.id, "reference": m.reference, "objet": m.objet, "nature": m.kind,
            "roles": sorted(access.own_roles()),
            "parties": [{"id": r.id, "role": r.role, "siret": r.siret, "nom": r.name, "statut": r.status,
                         "parent_id": r.parent_id, "code_service": r.service_code} for r in access.visible_rows()],
            "fiche_identite": sheet,
            "depots_possibles": [{"partie_id": c.party_id, "role": c.role, "cadre": c.cadre, "libelle": c.label}
                                 for c in drafts.deposit_choices(g.structure, m.id)]}


@bp.get("/marches/<int:marche_id>/etats-acompte/<mois>")
@bp.response(200, S.EtatOut)
@bp.problems(401, 403, 404, 429)
@require(*VIEW)
def etat_acompte(marche_id: int, mois: str):
    """L'état d'acompte d'un mois (AAAA-MM) : le résultat du moteur (figé à l'émission), limité à ce que la
    structure voit — les mêmes chiffres que la page du portail."""
    access = _access(marche_id)
    if access is None:
        return problem(404)
    etat = db.session.scalar(select(EtatAcompte).where(EtatAcompte.marche_id == marche_id, EtatAcompte.month == mois)
                             .order_by(EtatAcompte.final, EtatAcompte.number.desc()))
    if etat is None:
        return problem(404, "Aucun état d'acompte pour ce mois sur ce marché.")
    result, refusal, _pdms = etats.result_of(access.marche, etat)
    return {"id": etat.id, "numero": etat.number, "mois": etat.month, "final": etat.final, "statut": etat.status,
            "emis_le": etat.issued_at, "resultat": etats.visible_result(result, access),
            "refus": refusal.message if refusal else None}
