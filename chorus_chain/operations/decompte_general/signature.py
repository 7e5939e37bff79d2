"""The titulaire (or the mandataire of a groupement) signs the décompte général (A20) the MOA notified, within 30
days of its notification (CCAG Travaux 2021 art. 12.4; CHORUS.md §5 [assumed: 45 days under CCAG 2009]).

- **Without reservations**: the DG becomes the décompte général et définitif (DGD).
- **With reservations**: the reasons go into a mémoire en réclamation — its text, the amount of the sums the
  titulaire claims beyond the DG, and optionally its file — handed over within the same 30 days. The law binds the
  titulaire to every element of the DG its reservations do not touch, and a mémoire that does not state the amount
  claimed does not keep the reservations alive (the DG is then deemed accepted): both are required here.
- **Late**: past the deadline the DG is deemed accepted and has become the DGD; the signature is refused with what
  the law says (the sweep records the tacit acceptance on the A20 at its due instant).

Either way, the undisputed part is payable at once: the DGD (A8) goes to the paying office in the holder's name, and
the payable lines of the final état are written — the engine's solde per payee, nothing else. The sums claimed in
the mémoire are the disputed part: they are no line and no payment, they stay open (`dispute_status`) and are shown
on the pages until the dispute is settled. The délai de paiement of the solde runs from the receipt of the DGD the
titulaire signed: the lines' DGP starts on the signature day (the platform receives it at once) [assumed: the CCP
runs the solde's délai from the maître d'ouvrage's receipt of the signed DGD].
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from chorus_chain import formatting
from chorus_chain.domain import amounts as amount_rules
from chorus_chain.domain import text as text_rules
from chorus_chain.domain import transitions as T
from chorus_chain.extensions import db
from chorus_chain.graph import Role
from chorus_chain.models import Account, Structure
from chorus_chain.models.decompte_general import RESERVATIONS_MAX, DecompteGeneral
from chorus_chain.models.money import Decompte
from chorus_chain.operations import OperationError
from chorus_chain.operations import pieces_drafts as drafts
from chorus_chain.operations import pieces_records as records
from chorus_chain.operations.decompte_general import rows
from chorus_chain.operations.etat_pieces import lines as line_ops
from chorus_chain.operations.etat_pieces import pieces as piece_ops
from chorus_chain.operations.marches import MarcheAccess, record, today

A = T.Action
SIGNATURE_LABELS = {"sans_reserve": "sans réserve", "avec_reserves": "avec réserves",
                    "tacite": "accepté tacitement (délai de signature dépassé)"}


def late_message(row: DecompteGeneral) -> str:
    """What the law says once the 30 days ran out (CCAG Travaux 2021 art. 12.4)."""
    return (f"Le délai de signature du décompte général a expiré le {formatting.instant(row.signature_due_at)} "
            f"(30 jours après sa notification le {formatting.instant(row.dg_notified_at)}) : il ne peut plus être "
            "signé. Selon l'article 12.4 du CCAG Travaux 2021, le titulaire qui n'a pas renvoyé le décompte général "
            "signé dans ce délai est réputé l'avoir accepté : il est devenu le décompte général et définitif du "
            "marché, et des réserves ne peuvent plus être formulées.")


def _memoire(reservations: Any, claimed_amount: Any) -> tuple[str, Decimal]:
    text = reservations.strip() if isinstance(reservations, str) else ""
    if not text:
        raise OperationError("Exposez vos réserves : le mémoire en réclamation en donne les motifs, réserve par "
                             "réserve (CCAG Travaux 2021, art. 12.4). Sans motif, les réserves ne valent pas et le "
                             "décompte général est réputé accepté.", field="reservations")
    if len(text) > RESERVATIONS_MAX:
        raise OperationError(f"Le mémoire en réclamation tient en {RESERVATIONS_MAX} caractères au plus : joignez "
                             "le détail en fichier.", field="reservations")
    problem = text_rules.text_problem(text, multiline=True)  # read as posted (no form class): checked here
    if problem:
        raise OperationError(problem, field="reservations")
    if claimed_amount is None or (isinstance(claimed_amount, str) and not claimed_amount.strip()):
        raise OperationError("Précisez le montant des sommes dont vous revendiquez le paiement en plus du décompte "
                             "général : le mémoire en réclamation doit le chiffrer (CCAG Travaux 2021, art. 12.4).",
                             field="claimed_amount")
    try:
        amount = amount_rules.parse_amount(claimed_amount, field="claimed_amount", label="Le montant réclamé")
    except amount_rules.AmountRefused as error:
        raise OperationError(error.message_fr, field="claimed_amount") from None
    if amount <= 0:
        raise OperationError("Le montant réclamé doit être supérieur à zéro.", field="claimed_amount")
    return text, amount


def sign(access: MarcheAccess, etat_id: Any, account: Account, structure: Structure, *, with_reservations: bool,
         reservations: Any = None, claimed_amount: Any = None, memoire: drafts.UploadedFile | None = None,
         now: datetime) -> DecompteGeneral:
    if not rows.is_holder(access):
        raise OperationError("Seul le titulaire du marché (ou le mandataire du groupement) signe le décompte "
                             "général.")
    text, amount = _memoire(reservations, claimed_amount) if with_reservations else (None, None)
    if not with_reservations and memoire is not None:
        raise OperationError("Un mémoire en réclamation accompagne une signature avec réserves.", field="memoire")
    marche, etat = rows.lock_final_etat(access, etat_id)
    row = rows.row_of(etat.id, lock=True)
    if row is None or row.dg_piece_id is None:
        raise OperationError("Le maître d'ouvrage n'a pas encore notifié de décompte général : il n'y a rien à "
                             "signer.")
    if row.signature == "tacite":
        raise OperationError(late_message(row))
    if row.signature is not None:
        raise OperationError(f"Le décompte général a déjà été signé {SIGNATURE_LABELS[row.signature]} le "
                             f"{formatting.instant(row.signed_at)} : une signature est définitive. Rechargez la "
                             "page.")
    dg = records.load_for_update(row.dg_piece_id)
    if now >= row.signature_due_at or dg.status != T.Status.A_ASSOCIER_FOURNISSEUR.value:
        raise OperationError(late_message(row))
    holder = next((r for r in access.own if r.role in Role.HOLDERS), None)
    extra = {"etat": {"id": etat.id, "number": etat.label, "final": True}}
    piece_ops.move(dg, [A.SIGN_DG_WITH_RESERVATIONS if with_reservations else A.SIGN_DG], T.TITULAIRE,
                   account=account, structure=structure, now=now, reason=text, extra=extra, announce=False)
    signature = "avec_reserves" if with_reservations else "sans_reserve"
    dgd = piece_ops.deposit_system_piece(
        marche, holder, "A8", piece_ops.etat_number(etat, "DGD"), result=etat.result, account=account,
        structure=structure, now=now, previous_piece_id=dg.id,
        extra={**extra, "signature": signature, "claimed_amount": str(amount) if amount is not None else None})
    if memoire is not None:
        [stored] = drafts.add_files(dgd, [memoire], role="attachment", account=account, now=now)
        row.memoire_file_id = stored.id
    # The DGD is what the paying office pays: the final état's lines, the engine's solde per payee.
    etat.validated_at = now
    etat.validated_by_id = account.id
    etat.validated_piece_id = dgd.id
    pdms = piece_ops.linked_pdms(etat)
    party_of = {d.piece_id: d.party_id for d in db.session.scalars(
        select(Decompte).where(Decompte.piece_id.in_([p.id for p, _ in pdms])))} if pdms else {}
    line_ops.build_lines(marche, etat, [(p, party_of.get(p.id, p.emitter_party_id)) for p, _ in pdms], now=now,
                         started_on=today(now))
    row.signature = signature
    row.signed_at = now
    row.signed_by_id = account.id
    row.dgd_piece_id = dgd.id
    row.reservations = text
    row.claimed_amount = amount
    row.dispute_status = "open" if with_reservations else None
    db.session.flush()
    record(marche, "dg_signed", account=account, structure=structure, etat=etat.label, signature=signature,
           solde=etat.result["marche"]["amount_due"]["this"], claimed_amount=amount)
    return row
