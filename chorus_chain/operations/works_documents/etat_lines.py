"""What an état d'acompte's PDF shows besides its frozen figures: each projet de décompte it carries, line by line,
claimed against admitted with the MOE's comment, and the signature blocks of the MOE and the MOA.

The lines are the `DecompteLine` rows linked to the état: the MOE admits them while the état is a draft and they
change no more once it is issued (`etats_acompte._draft`), so an issued état's PDF shows what was admitted when it
was issued. Read under the tenant who asks (the full view of the chain) or the documents job's system access.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from chorus_chain import formatting
from chorus_chain.documents.etat_doc import ROLE_LABELS_FR, EtatPdm, EtatPdmLine, Signatory
from chorus_chain.domain.money.schedule import EXTRA_LABELS, EXTRAS
from chorus_chain.extensions import db
from chorus_chain.models import Marche, MarcheParty, Piece, Structure
from chorus_chain.models.money import Decompte, EtatAcompte


def _line(line) -> EtatPdmLine:
    price = line.price_line
    if price.lump_sum:
        claimed_measure, admitted_measure = line.percent, line.admitted_percent
    else:
        claimed_measure, admitted_measure = line.quantity, line.admitted_quantity
    if line.admitted_amount_ht is None:  # admitted as claimed
        admitted_measure = claimed_measure
    return EtatPdmLine(price.reference, price.designation, price.unit or "", price.lump_sum, claimed_measure,
                       line.amount_ht, admitted_measure, line.admitted, line.moe_comment or "")


def _extras(decompte: Decompte) -> tuple[tuple[str, Decimal, Decimal], ...]:
    out = []
    for name in EXTRAS:
        claimed = getattr(decompte, name)
        admitted = getattr(decompte, f"admitted_{name}")
        admitted = claimed if admitted is None else admitted
        if claimed or admitted:
            out.append((EXTRA_LABELS[name], claimed, admitted))
    return tuple(out)


def pdms_of_etat(etat: EtatAcompte) -> tuple[EtatPdm, ...]:
    """The projets de décompte the état carries, per beneficiary (in the order of the marché's parties)."""
    from chorus_chain.operations import money as adapter

    rows = db.session.execute(
        select(Decompte.id, Piece.number, MarcheParty).join(Piece, Piece.id == Decompte.piece_id)
        .join(MarcheParty, MarcheParty.id == Decompte.party_id)
        .where(Decompte.etat_acompte_id == etat.id).order_by(MarcheParty.id, Decompte.id)).all()
    decomptes = {d.id: d for d in adapter.load_decomptes(row[0] for row in rows)}
    out = []
    for decompte_id, number, party in rows:
        decompte = decomptes[decompte_id]
        lines = sorted(decompte.lines, key=lambda line: (line.price_line.position, line.price_line.id))
        out.append(EtatPdm(party.name, ROLE_LABELS_FR.get(party.role, party.role), number,
                           tuple(_line(line) for line in lines), _extras(decompte)))
    return tuple(out)


def _party_name(marche: Marche, role: str) -> str | None:
    row = db.session.scalar(select(MarcheParty).where(MarcheParty.marche_id == marche.id, MarcheParty.role == role)
                            .order_by(MarcheParty.id).limit(1))
    if row is None:
        return None
    structure = db.session.get(Structure, row.structure_id) if row.structure_id else None
    return structure.name if structure is not None else row.name


def signatories_of(etat: EtatAcompte, marche: Marche, issuer_name: str) -> tuple[Signatory, ...]:
    """The MOE, who drew the état up (issued on), and the MOA, who validates it (validated on, once it has)."""
    issued = etat.issued_at.astimezone(formatting.PARIS).date() if etat.issued_at else None
    validated = etat.validated_at.astimezone(formatting.PARIS).date() if etat.validated_at else None
    blocks = [Signatory("Le maître d'œuvre", issuer_name, "Établi le", issued)]
    moa = _party_name(marche, "moa")
    if moa is not None and moa != issuer_name:
        blocks.append(Signatory("Le maître d'ouvrage", moa, "Validé le", validated))
    return tuple(blocks)
