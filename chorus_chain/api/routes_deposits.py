"""Deposits of e-invoices (Factur-X, CII, UBL: the portal's import reader) and batch deposits (a « flux »): each
piece of a batch is created in its own savepoint, so a refused piece leaves nothing behind and the others stand;
the report is kept (`DepositBatch`) and shown in the portal (« Dépôts par lot »)."""
from __future__ import annotations

import io
import zipfile

from flask import g
from marshmallow import ValidationError

from chorus_chain.api import schemas as S
from chorus_chain.api.core import idempotent, FIELD_NAMES, api_blueprint, has_right, now
from chorus_chain.api.problems import problem, validation_errors
from chorus_chain.api.routes_pieces import _may_deposit_on, deposit_item, piece_detail, upload
from chorus_chain.domain import numbering
from chorus_chain.extensions import db
from chorus_chain.models import DepositBatch
from chorus_chain.operations import OperationError
from chorus_chain.operations import einvoice_import
from chorus_chain.operations import pieces as ops
from chorus_chain.operations.deposits import DepositContext
from chorus_chain.operations.deposits import batch as batch_ops

bp = api_blueprint("api_depots", "/depots", "Dépôt de factures électroniques et dépôts par lot.")
ZIP_MAX_FILES = 500
ZIP_MAX_BYTES = 50 * 1024 * 1024



def _may_deposit() -> bool:
    return has_right("emises", "modification") or has_right("travaux", "modification")


def deposit_einvoice(file: ops.UploadedFile, *, marche_id=None, partie_id=None, cadre=None, envoyer=False):
    """The portal's import: read the file, match it with the structure's marchés and deposit choices, create the
    draft with the file kept as it came (and send it with `envoyer`)."""
    result = einvoice_import.preview(g.structure, file, marche_id=marche_id, party_id=partie_id, cadre=cadre,
                                     chosen=partie_id is not None,
                                     allowed=lambda choice, marche: _may_deposit_on(marche.id))
    if result.blocking:
        raise OperationError(result.blocking[0], field="fichier")
    if result.marche is None:
        raise OperationError("Aucun de vos marchés ne correspond à cette facture : indiquez marche_id.",
                             field="marche_id")
    if result.choice is None:
        raise OperationError("Choisissez à quel titre déposer cette facture sur ce marché (partie_id, cadre).",
                             field="partie_id")
    raw = dict(result.values)
    raw["party_id"], raw["cadre"] = result.choice.party_id, result.choice.cadre or ""
    piece = einvoice_import.create_draft_from_import(g.api_account, g.structure, result.marche.id, raw, file,
                                                     now=now())
    if envoyer:
        piece = ops.deposit(piece.id, g.api_account, g.structure, now=now())
    return piece


@bp.post("/facture-electronique")
@idempotent(bp)
@bp.arguments(S.EinvoiceIn)
@bp.response(201, S.PieceDetail)
@bp.problems(400, 401, 403, 422, 429)
def einvoice(body):
    """Déposer une facture électronique (Factur-X, XML CII ou UBL, en base64) : le même lecteur que l'import du
    portail ; le marché est reconnu par sa référence dans le fichier, sinon `marche_id`."""
    if not _may_deposit():
        return problem(403)
    piece = deposit_einvoice(upload(body["fichier"]), marche_id=body["marche_id"], partie_id=body["partie_id"],
                             cadre=body["cadre"], envoyer=body["envoyer"])
    return piece_detail(ops.piece_for(g.structure, piece.id))


def _item_result(index: int, numero, attempt, ctx: DepositContext | None = None) -> dict:
    """Run one item in its own savepoint: created, or refused with its reasons and nothing left of it (nor in the
    batch's prepared context `ctx`)."""
    mark = ctx.mark() if ctx is not None else None
    savepoint = db.session.begin_nested()
    try:
        piece = attempt()
    except OperationError as error:
        savepoint.rollback()
        if ctx is not None:
            ctx.rolled_back(mark)
        return _refused(index, numero, error)
    savepoint.commit()
    return _created(index, piece)


def _refused(index: int, numero, error: OperationError) -> dict:
    problems = getattr(error, "problems", None) or [error]
    return {"index": index, "numero": numero, "resultat": "refusee", "piece_id": None, "statut": None,
            "erreurs": [{"field": FIELD_NAMES.get(getattr(p, "field", None), getattr(p, "field", None)),
                         "message": getattr(p, "message_fr", None) or getattr(p, "message", "")}
                        for p in problems]}


def _created(index: int, piece) -> dict:
    return {"index": index, "numero": piece.number, "resultat": "creee", "piece_id": piece.id,
            "statut": piece.status, "erreurs": []}


def _report(items: list[dict], source: str) -> dict:
    created = sum(1 for item in items if item["resultat"] == "creee")
    batch = DepositBatch(structure_id=g.structure.id, client_id=g.api_client.id, client_name=g.api_client.name,
                         source=source, total=len(items), created=created, refused=len(items) - created,
                         items=items, at=now())
    db.session.add(batch)
    db.session.flush()
    return {"id": batch.id, "total": batch.total, "creees": batch.created, "refusees": batch.refused,
            "items": items}


def _number_keys(raws: list) -> list[str]:
    """The number keys of the batch's well-formed numbers, to look them up in one query (a malformed one is refused
    by the operation, with its message)."""
    keys = []
    for raw in raws:
        if isinstance(raw, dict) and isinstance(raw.get("numero"), str):
            try:
                keys.append(numbering.number_key(numbering.clean_piece_number(raw["numero"])))
            except numbering.NumberRefused:
                continue
    return keys


@bp.post("/lot")
@idempotent(bp)
@bp.arguments(S.BatchIn)
@bp.response(201, S.BatchOut)
@bp.problems(400, 401, 403, 422, 429)
def batch(body):
    """Un lot de pièces (jusqu'à 500) : chacune est créée (et envoyée avec `envoyer`) ou refusée avec ses
    raisons ; rien n'est créé à moitié. Le rapport est aussi affiché dans le portail (« Dépôts par lot »)."""
    if not _may_deposit():
        return problem(403)
    schema = S.DraftIn()
    ctx = DepositContext(g.structure)  # what every piece of the batch reads, read once
    ctx.prefetch_numbers(g.structure.id, _number_keys(body["pieces"]))
    items: list[dict | None] = []
    wanted: list[tuple[int, str | None, batch_ops.Item]] = []  # (index, numero, item) of the pieces to create
    may_deposit_on: dict[int, bool] = {}  # per marché, once per batch
    for index, raw in enumerate(body["pieces"]):
        numero = raw.get("numero") if isinstance(raw.get("numero"), str) else None
        try:
            item = schema.load(raw)
        except ValidationError as error:
            items.append({"index": index, "numero": numero, "resultat": "refusee", "piece_id": None,
                          "statut": None, "erreurs": validation_errors(error.messages)})
            continue
        if item["marche_id"] not in may_deposit_on:
            may_deposit_on[item["marche_id"]] = _may_deposit_on(item["marche_id"])
        if not may_deposit_on[item["marche_id"]]:
            items.append({"index": index, "numero": numero, "resultat": "refusee", "piece_id": None, "statut": None,
                          "erreurs": [{"field": "marche_id", "message": "Les droits de ce client ne permettent pas "
                                                                        "de déposer sur ce marché."}]})
            continue
        try:
            wanted.append((index, numero, deposit_item(item)))
        except OperationError as error:  # a file that is not base64
            items.append(_refused(index, numero, error))
            continue
        items.append(None)  # its outcome, below
    outcomes = batch_ops.create_many(g.api_account, g.structure, [item for _, _, item in wanted], now=now(),
                                     ctx=ctx)
    for (index, numero, _), outcome in zip(wanted, outcomes, strict=True):
        items[index] = _created(index, outcome.piece) if outcome.piece is not None \
            else _refused(index, numero, outcome.error)
    ctx.finish()
    return _report(items, "json")


@bp.post("/lot-zip")
@idempotent(bp)
@bp.arguments(S.EinvoiceIn)
@bp.response(201, S.BatchOut)
@bp.problems(400, 401, 403, 422, 429)
def batch_zip(body):
    """Un lot de factures électroniques dans un ZIP (en base64, jusqu'à 500 fichiers) : chaque fichier est lu par le
    lecteur de l'import et déposé, ou refusé avec ses raisons."""
    if not _may_deposit():
        return problem(403)
    archive = upload(body["fichier"])
    try:
        members = zipfile.ZipFile(io.BytesIO(archive.content))
        infos = [info for info in members.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, ValueError):
        raise OperationError("Le fichier n'est pas une archive ZIP lisible.", field="fichier") from None
    if len(infos) > ZIP_MAX_FILES or sum(info.file_size for info in infos) > ZIP_MAX_BYTES:
        raise OperationError(f"L'archive dépasse {ZIP_MAX_FILES} fichiers ou 50 Mo une fois décompressée.",
                             field="fichier")
    items = []
    for index, info in enumerate(infos):
        name = info.filename.rsplit("/", 1)[-1]
        file = ops.UploadedFile(name, members.read(info))
        items.append(_item_result(index, name, lambda file=file: deposit_einvoice(
            file, marche_id=body["marche_id"], partie_id=body["partie_id"], cadre=body["cadre"],
            envoyer=body["envoyer"])))
    return _report(items, "zip")
