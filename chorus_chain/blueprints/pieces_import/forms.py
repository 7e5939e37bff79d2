"""Forms of the e-invoice import: the upload, and the draft form of the preview, which carries the file back (base64
in a hidden field, read again on submit: see operations.einvoice_import)."""
from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import HiddenField

from chorus_chain.blueprints.forms import Form
from chorus_chain.blueprints.pieces.forms import DraftForm, uploaded
from chorus_chain.operations.pieces import UploadedFile


class UploadForm(Form):
    fichier = FileField("Facture électronique (PDF Factur-X, XML CII ou UBL)",
                        render_kw={"accept": ".pdf,.xml,application/pdf,application/xml,text/xml"})

    def upload(self) -> UploadedFile | None:
        return uploaded(self.fichier.data)


class ImportDraftForm(DraftForm):
    """The draft's fields pre-filled from the file, plus the file itself and the marché."""

    marche_id = HiddenField()
    einvoice_name = HiddenField()
    einvoice_data = HiddenField()
