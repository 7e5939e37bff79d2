"""The API's bodies (marshmallow): what the OpenAPI description documents and what requests are checked against.
French field names where the domain is French, as Chorus Pro's own API. Unknown fields are refused (marshmallow's
RAISE), so a misspelt field is a refusal, never a silent default."""
from __future__ import annotations

from collections.abc import Mapping

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from chorus_chain.domain import rights as rights_rules
from chorus_chain.domain import text as text_rules
from chorus_chain.domain import transitions as T
from chorus_chain.domain.amounts import PIECE_TYPES
from chorus_chain.domain.cadres import CADRES
from chorus_chain.models.pieces import PAYMENT_MODES, VAT_REGIMES

AMOUNT_PATTERN = r"^-?[0-9]+\.[0-9]{2}$"


def Montant(**kwargs):
    """An amount received: a JSON number or a string ("1234.56"), read as an exact Decimal; the operation refuses
    more than two decimals with the portal's message."""
    return fields.Decimal(allow_nan=False, metadata={"type": ["number", "string"], "examples": ["1234.56"]},
                          **kwargs)


def MontantOut(**kwargs):
    """An amount answered: always a string with two decimals ("1234.56"), never a binary float."""
    return fields.Decimal(as_string=True, metadata={"type": "string", "pattern": AMOUNT_PATTERN}, **kwargs)


# The fields that hold several lines (a comment, a justification, a file in base64 wrapped at 76 characters); every
# other string is one line.
MULTILINE_FIELDS = frozenset({"commentaire", "justification", "contenu_base64"})


def _unsafe_fields(data, prefix: str = "", name: str = ""):
    """(field, French sentence) of each string holding what free text may not: NUL (PostgreSQL text cannot store
    it), another control character or a bidirectional override (shown to the other companies of the chain and sent
    to Chorus Pro: domain.text), a line break in a one-line field. The API refuses them itself, as the portal's
    forms do (input_guard leaves /api to it)."""
    if isinstance(data, str):
        if "\x00" in data:
            yield prefix or "_schema", "Caractère nul (U+0000) interdit."
        else:
            said = text_rules.text_problem(data, multiline=name in MULTILINE_FIELDS)
            if said:
                yield prefix or "_schema", said
    elif isinstance(data, Mapping):
        for key in list(data.keys()):
            yield from _unsafe_fields(data[key], f"{prefix}.{key}" if prefix else str(key), str(key))
    elif isinstance(data, (list, tuple)):
        for index, item in enumerate(data):
            yield from _unsafe_fields(item, f"{prefix}[{index}]", name)


class Strict(Schema):
    class Meta:
        unknown = RAISE
        ordered = True

    @pre_load
    def _refuse_unsafe_text(self, data, **kwargs):
        bad = dict(_unsafe_fields(data))
        if bad:
            raise ValidationError({field: [said] for field, said in bad.items()})
        return data


# ---------------------------------------------------------------------------------------------------------------------
# Problems and tokens


class FieldError(Schema):
    field = fields.String(allow_none=True, metadata={"description": "Le champ en cause (None : la requête entière)."})
    message = fields.String(required=True)


class Problem(Schema):
    """RFC 9457 problem details, in French."""
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.List(fields.Nested(FieldError), required=True)
    error = fields.String(metadata={"description": "Code OAuth2 (invalid_client…) sur /token."})


class TokenRequest(Strict):
    grant_type = fields.String(required=True, validate=validate.OneOf(["client_credentials"]))
    client_id = fields.String(load_default=None, validate=validate.Length(max=100))
    client_secret = fields.String(load_default=None, validate=validate.Length(max=200))
    scope = fields.String(load_default=None, validate=validate.Length(max=200))


class Token(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    structure_siret = fields.String(required=True)
    droits = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


# ---------------------------------------------------------------------------------------------------------------------
# Structures and marchés


class ServiceOut(Schema):
    code = fields.String(required=True)
    nom = fields.String(required=True)
    engagement_obligatoire = fields.Boolean(required=True)


class StructureOut(Schema):
    siret = fields.String(required=True)
    nom = fields.String(required=True)
    publique = fields.Boolean(required=True)
    exigence_routage = fields.String(required=True)
    services = fields.List(fields.Nested(ServiceOut), required=True)


class SiretPath(Strict):
    siret = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{14}$"))


class PartieOut(Schema):
    id = fields.Integer(required=True)
    role = fields.String(required=True)
    siret = fields.String(required=True)
    nom = fields.String(allow_none=True)
    statut = fields.String(required=True)
    parent_id = fields.Integer(allow_none=True)
    code_service = fields.String(allow_none=True)


class MarcheOut(Schema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True)
    objet = fields.String(required=True)
    nature = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)


class MarcheList(Schema):
    items = fields.List(fields.Nested(MarcheOut), required=True)


class EtapeOut(Schema):
    etape = fields.String(required=True)
    siret = fields.String(allow_none=True)
    nom = fields.String(allow_none=True)
    role = fields.String(required=True)


class FicheLigne(Schema):
    partie_id = fields.Integer(required=True)
    cadre = fields.String(allow_none=True)
    cadre_libelle = fields.String(required=True)
    siret_destinataire = fields.String(allow_none=True)
    code_service = fields.String(allow_none=True)
    numero_engagement = fields.String(allow_none=True)
    etapes = fields.List(fields.Nested(EtapeOut), required=True)
    probleme = fields.String(allow_none=True)


class DepotPossible(Schema):
    partie_id = fields.Integer(required=True)
    role = fields.String(required=True)
    cadre = fields.String(allow_none=True)
    libelle = fields.String(required=True)


class MarcheDetail(MarcheOut):
    parties = fields.List(fields.Nested(PartieOut), required=True)
    fiche_identite = fields.List(fields.Nested(FicheLigne), required=True)
    depots_possibles = fields.List(fields.Nested(DepotPossible), required=True)


class MoisPath(Strict):
    marche_id = fields.Integer(required=True)
    mois = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{4}-[0-9]{2}$"))


class EtatOut(Schema):
    id = fields.Integer(required=True)
    numero = fields.Integer(required=True)
    mois = fields.String(required=True)
    final = fields.Boolean(required=True)
    statut = fields.String(required=True)
    emis_le = fields.DateTime(allow_none=True)
    resultat = fields.Dict(allow_none=True, metadata={"description": "Le résultat du moteur (figé à l'émission), "
                                                                     "limité à ce que la structure voit."})
    refus = fields.String(allow_none=True)


# ---------------------------------------------------------------------------------------------------------------------
# Pieces


class PieceQuery(Strict):
    boite = fields.String(load_default="emises", validate=validate.OneOf(["emises", "recues", "a_traiter"]))
    statut = fields.List(fields.String(validate=validate.Length(max=50)), load_default=None)
    marche_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))
    cadre = fields.String(load_default=None, validate=validate.OneOf(["", *CADRES]))
    numero = fields.String(load_default=None, validate=validate.Length(max=20))
    depose_depuis = fields.Date(load_default=None)
    depose_avant = fields.Date(load_default=None)
    limite = fields.Integer(load_default=25, validate=validate.Range(min=1, max=100))
    curseur = fields.String(load_default=None, validate=validate.Regexp(r"^[0-9]{1,12}$"),
                            metadata={"pattern": "^[0-9]{1,12}$",
                                      "description": "La valeur de `curseur_suivant` de la page précédente."})


class DeadlineOut(Schema):
    nature = fields.String(required=True)
    echeance = fields.DateTime(required=True)
    close_le = fields.DateTime(allow_none=True)


class PieceOut(Schema):
    id = fields.Integer(required=True)
    numero = fields.String(required=True)
    type_piece = fields.String(required=True)
    statut = fields.String(required=True)
    statut_libelle = fields.String(required=True)
    cadre = fields.String(allow_none=True)
    travaux = fields.Boolean(required=True)
    marche_id = fields.Integer(required=True)
    marche_reference = fields.String(required=True)
    emetteur_siret = fields.String(required=True)
    emetteur_nom = fields.String(required=True)
    montant_ht = MontantOut(required=True)
    montant_tva = MontantOut(required=True)
    montant_ttc = MontantOut(required=True)
    montant_accepte = MontantOut(allow_none=True)
    montant_paye = MontantOut(allow_none=True)
    date_emission = fields.Date(required=True)
    date_paiement = fields.Date(allow_none=True)
    siret_destinataire = fields.String(required=True)
    code_service = fields.String(allow_none=True)
    numero_engagement = fields.String(allow_none=True)
    dossier = fields.String(allow_none=True)
    depose_le = fields.DateTime(allow_none=True)
    prochaine_echeance = fields.Nested(DeadlineOut, allow_none=True)


class PieceList(Schema):
    items = fields.List(fields.Nested(PieceOut), required=True)
    curseur_suivant = fields.String(allow_none=True, required=True)


class EventOut(Schema):
    le = fields.DateTime(required=True)
    action = fields.String(required=True)
    de = fields.String(allow_none=True)
    vers = fields.String(required=True)
    par_siret = fields.String(allow_none=True)
    etape = fields.String(required=True)
    motif = fields.String(allow_none=True)
    commentaire = fields.String(allow_none=True)
    montant = MontantOut(allow_none=True)


class FichierOut(Schema):
    id = fields.Integer(required=True)
    role = fields.String(required=True)
    nom = fields.String(required=True)
    taille = fields.Integer(required=True)
    sha256 = fields.String(required=True)


class ActionOut(Schema):
    action = fields.String(required=True)
    libelle = fields.String(required=True)
    motif = fields.String(allow_none=True)
    motifs = fields.List(fields.List(fields.String()), required=True)
    montant = fields.String(allow_none=True)
    date_paiement = fields.Boolean(required=True)
    fichiers = fields.String(allow_none=True)


class PieceDetail(PieceOut):
    historique = fields.List(fields.Nested(EventOut), required=True)
    echeances = fields.List(fields.Nested(DeadlineOut), required=True)
    fichiers = fields.List(fields.Nested(FichierOut), required=True)
    actions_possibles = fields.List(fields.Nested(ActionOut), required=True)


class FichierIn(Strict):
    nom = fields.String(required=True, validate=validate.Length(min=1, max=100))
    contenu_base64 = fields.String(required=True, validate=validate.Length(min=1, max=14_000_000))


class DraftIn(Strict):
    marche_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    partie_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))
    cadre = fields.String(load_default=None, validate=validate.OneOf(["", *CADRES]))
    type_piece = fields.String(load_default="FACTURE", validate=validate.OneOf(PIECE_TYPES))
    numero = fields.String(required=True, validate=validate.Length(max=20))
    date_emission = fields.Date(required=True)
    montant_ht = Montant(required=True)
    montant_tva = Montant(required=True)
    montant_ttc = Montant(required=True)
    regime_tva = fields.String(load_default=None, validate=validate.OneOf(VAT_REGIMES))
    siret_destinataire = fields.String(load_default=None, validate=validate.Length(max=14))
    code_service = fields.String(load_default=None, validate=validate.Length(max=100))
    numero_engagement = fields.String(load_default=None, validate=validate.Length(max=50))
    compte_bancaire_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))
    mode_paiement = fields.String(load_default=None, validate=validate.OneOf(PAYMENT_MODES))
    piece_origine_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))
    piece_precedente_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))
    fichier = fields.Nested(FichierIn, load_default=None, metadata={"description": "Le document principal (PDF)."})
    pieces_jointes = fields.List(fields.Nested(FichierIn), load_default=list, validate=validate.Length(max=20))
    envoyer = fields.Boolean(load_default=False, metadata={"description": "Envoyer aussitôt créée (contrôle puis "
                                                                          "dépôt) ; sinon un brouillon."})


class FilesIn(Strict):
    fichiers = fields.List(fields.Nested(FichierIn), required=True, validate=validate.Length(min=1, max=20))
    principal = fields.Boolean(load_default=False, metadata={"description": "Le premier fichier devient le document "
                                                                            "principal."})


class ProblemLine(Schema):
    field = fields.String(allow_none=True)
    message = fields.String(required=True)


class Preflight(Schema):
    pret = fields.Boolean(required=True)
    problemes = fields.List(fields.Nested(ProblemLine), required=True)


class ActionIn(Strict):
    action = fields.String(required=True, validate=validate.OneOf(sorted(set(T.ACTION_LABELS) - {T.Action.CREATE})))
    statut_attendu = fields.String(required=True, validate=validate.Length(min=1, max=50),
                                   metadata={"description": "Le statut que le client a lu (garde expected_status) : "
                                                            "si la pièce a changé entre-temps, refus 422."})
    motif = fields.String(load_default=None, validate=validate.Length(max=100))
    commentaire = fields.String(load_default=None, validate=validate.Length(max=1000))
    montant = Montant(load_default=None, allow_none=True)
    date_paiement = fields.Date(load_default=None, allow_none=True)
    fichiers = fields.List(fields.Nested(FichierIn), load_default=list, validate=validate.Length(max=20))


class EinvoiceIn(Strict):
    fichier = fields.Nested(FichierIn, required=True, metadata={"description": "Factur-X (PDF), XML CII ou UBL."})
    marche_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))
    partie_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))
    cadre = fields.String(load_default=None, validate=validate.OneOf(["", *CADRES]))
    envoyer = fields.Boolean(load_default=False)


class BatchIn(Schema):
    """Not `Strict`'s text check over the whole batch: each piece is checked on its own (DraftIn), so one bad piece
    is refused alone."""

    class Meta:
        unknown = RAISE

    pieces = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1, max=500),
                         metadata={"description": "Chaque élément : le corps de POST /pieces (brouillon ou "
                                                  "envoi)."})


class BatchItem(Schema):
    index = fields.Integer(required=True)
    numero = fields.String(allow_none=True)
    resultat = fields.String(required=True, validate=validate.OneOf(["creee", "refusee"]))
    piece_id = fields.Integer(allow_none=True)
    statut = fields.String(allow_none=True)
    erreurs = fields.List(fields.Nested(ProblemLine), required=True)


class BatchOut(Schema):
    id = fields.Integer(required=True)
    total = fields.Integer(required=True)
    creees = fields.Integer(required=True)
    refusees = fields.Integer(required=True)
    items = fields.List(fields.Nested(BatchItem), required=True)


RIGHTS = rights_rules.DOMAINS


# ---------------------------------------------------------------------------------------------------------------------
# Documents (the portal's documents job: queued, followed, downloaded)

PIECE_DOCUMENT_KINDS = ("piece_pdf", "facturx", "attestation", "interets", "dossier_zip")


class DocumentIn(Strict):
    type = fields.String(required=True, validate=validate.OneOf(PIECE_DOCUMENT_KINDS),
                         metadata={"description": "piece_pdf (PDF de la pièce), facturx (Factur-X), attestation "
                                                  "(acceptation tacite), interets (demande d'intérêts moratoires), "
                                                  "dossier_zip (archive du dossier)."})


class DocumentOut(Schema):
    id = fields.Integer(required=True)
    type = fields.String(required=True)
    libelle = fields.String(required=True)
    statut = fields.String(required=True, validate=validate.OneOf(["queued", "running", "done", "failed"]),
                           metadata={"description": "queued, running, done ou failed : interrogez cette adresse "
                                                    "jusqu'à done (ou failed)."})
    progression = fields.Integer(required=True, metadata={"description": "0 à 100."})
    erreur = fields.String(allow_none=True)
    piece_id = fields.Integer(allow_none=True)
    marche_id = fields.Integer(allow_none=True)
    nom_fichier = fields.String(required=True)
    type_contenu = fields.String(required=True)
    demande_le = fields.DateTime(required=True)
    fichier_url = fields.String(allow_none=True, metadata={"description": "Où télécharger le fichier, une fois "
                                                                          "le document prêt (done)."})


# ---------------------------------------------------------------------------------------------------------------------
# The décompte of a projet de décompte (entered line by line, as on the portal's décompte page)

def Mesure(**kwargs):
    """A quantity or a percentage answered: a decimal string ("12.500"), never a binary float."""
    metadata = {"type": "string", **kwargs.pop("metadata", {})}
    return fields.Decimal(as_string=True, metadata=metadata, **kwargs)


class DecompteLigneOut(Schema):
    ligne_id = fields.Integer(required=True)
    reference = fields.String(required=True)
    designation = fields.String(required=True)
    lot = fields.String(required=True)
    unite = fields.String(required=True)
    forfait = fields.Boolean(required=True, metadata={"description": "Un forfait se saisit en % exécuté."})
    quantite_marche = Mesure(allow_none=True)
    prix_unitaire_ht = MontantOut(allow_none=True)
    montant_marche_ht = MontantOut(required=True)
    cumul_precedent = Mesure(allow_none=True, metadata={"description": "Le cumul du décompte précédent."})
    cumul = Mesure(required=True, metadata={"description": "Le cumul à ce jour (quantité, ou % d'un forfait)."})
    montant_cumule_ht = MontantOut(required=True)
    montant_precedent_ht = MontantOut(required=True)
    avancement = Mesure(allow_none=True, metadata={"description": "En % du marché."})
    justification = fields.String(required=True)
    a_justifier = fields.Boolean(required=True, metadata={"description": "Au-delà de 100 % ou en baisse : une "
                                                                         "justification est demandée."})
    problemes = fields.List(fields.String(), required=True)


class DecompteOut(Schema):
    piece_id = fields.Integer(required=True)
    mois = fields.String(required=True)
    final = fields.Boolean(required=True)
    enregistre = fields.Boolean(required=True, metadata={"description": "Faux : pré-rempli du décompte précédent, "
                                                                        "jamais enregistré."})
    mois_precedent = fields.String(allow_none=True)
    lignes = fields.List(fields.Nested(DecompteLigneOut), required=True)
    cumuls = fields.Dict(keys=fields.String(), values=MontantOut(), required=True,
                         metadata={"description": "approvisionnements, primes, debours, refactions (cumulés)."})
    montant_ht = MontantOut(allow_none=True)  # what this projet claims this month (HT)
    erreur_montant = fields.String(allow_none=True)
    justification = fields.String(required=True)
    modifiable = fields.Boolean(required=True)
    problemes_envoi = fields.List(fields.Nested(FieldError), required=True,
                                  metadata={"description": "Ce qui empêche de l'envoyer (vide : il peut partir)."})


class DecompteLigneIn(Strict):
    ligne_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    cumul = fields.String(load_default=None, validate=validate.Length(max=30),
                          metadata={"description": "Le cumul à ce jour : quantité, ou % d'un forfait (« 12.5 » ou "
                                                   "« 12,5 ») ; absent : celui du mois précédent."})
    justification = fields.String(load_default="", validate=validate.Length(max=1000))


class DecompteIn(Strict):
    mois = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{4}-[0-9]{2}$"))
    lignes = fields.List(fields.Nested(DecompteLigneIn), load_default=list, validate=validate.Length(max=2000))
    approvisionnements = fields.String(load_default=None, validate=validate.Length(max=30))
    primes = fields.String(load_default=None, validate=validate.Length(max=30))
    debours = fields.String(load_default=None, validate=validate.Length(max=30))
    refactions = fields.String(load_default=None, validate=validate.Length(max=30))
    justification = fields.String(load_default="", validate=validate.Length(max=2000))


# ---------------------------------------------------------------------------------------------------------------------
# Webhooks


class WebhookIn(Strict):
    url = fields.String(required=True, validate=validate.Length(min=1, max=500),
                        metadata={"description": "L'adresse https:// qui recevra les événements (POST signé).",
                                  "examples": ["https://erp.exemple.fr/chorus/evenements"]})
    evenements = fields.List(fields.String(validate=validate.Length(max=60)), load_default=None,
                             validate=validate.Length(min=1, max=10),
                             metadata={"description": "Les événements voulus (par défaut : tous) : "
                                                      "piece.statut_modifie."})


class WebhookOut(Schema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    evenements = fields.List(fields.String(), required=True)
    actif = fields.Boolean(required=True)
    cree_le = fields.DateTime(required=True)


class WebhookCreated(WebhookOut):
    secret = fields.String(required=True, metadata={
        "description": "Le secret de signature, montré cette seule fois : chaque envoi porte l'en-tête "
                       "`Chorus-Signature: t=<horodatage>,v1=<HMAC-SHA256 hexadécimal de « t.corps »>`."})


class WebhookList(Schema):
    items = fields.List(fields.Nested(WebhookOut), required=True)


class LivraisonQuery(Strict):
    limite = fields.Integer(load_default=25, validate=validate.Range(min=1, max=100))
    curseur = fields.String(load_default=None, validate=validate.Regexp(r"^[0-9]{1,12}$"),
                            metadata={"pattern": "^[0-9]{1,12}$",
                                      "description": "La valeur de `curseur_suivant` de la page précédente."})


class LivraisonOut(Schema):
    id = fields.Integer(required=True)
    evenement_id = fields.String(required=True)
    evenement = fields.String(required=True)
    piece_id = fields.Integer(allow_none=True)
    statut = fields.String(required=True, metadata={"description": "pending (essais en cours), delivered, failed "
                                                                   "(abandonnée après le dernier essai)."})
    essais = fields.Integer(required=True)
    prochain_essai_le = fields.DateTime(allow_none=True)
    dernier_code_http = fields.Integer(allow_none=True)
    derniere_erreur = fields.String(allow_none=True)
    livree_le = fields.DateTime(allow_none=True)
    abandonnee_le = fields.DateTime(allow_none=True)
    cree_le = fields.DateTime(required=True)
    contenu = fields.Dict(required=True, metadata={"description": "Le corps envoyé (JSON)."})


class LivraisonList(Schema):
    items = fields.List(fields.Nested(LivraisonOut), required=True)
    curseur_suivant = fields.String(allow_none=True, required=True)
