"""Forms of the price schedule: a line (by hand), the import of a sheet, the attribution of lines to a party."""
from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from chorus_chain.blueprints.forms import Form, max_length, strip
from chorus_chain.graph import ROLE_LABELS


def party_choices(parties) -> list[SelectChoice]:
    return [SelectChoice("", "Titulaire / mandataire")] + [
        SelectChoice(str(row.id), f"{row.name} — {ROLE_LABELS[row.role]}") for row in parties]


class PriceLineForm(Form):
    lot = StringField("Lot", validators=[Optional(), max_length(50)], filters=[strip])
    reference = StringField("Référence", validators=[Optional(), max_length(30)], filters=[strip])
    designation = StringField("Désignation", validators=[Optional(), max_length(300)], filters=[strip])
    unit = StringField("Unité", validators=[Optional(), max_length(20)], filters=[strip])
    quantity = StringField("Quantité", validators=[Optional()], filters=[strip],
                           render_kw={"inputmode": "decimal", "autocomplete": "off"})
    unit_price_ht = StringField("Prix unitaire HT (€)", validators=[Optional()], filters=[strip],
                                render_kw={"inputmode": "decimal", "autocomplete": "off"})
    lump_sum = BooleanField("Forfait (payé au pourcentage d'avancement)")
    amount_ht = StringField("Montant HT du forfait (€)", validators=[Optional()], filters=[strip],
                            render_kw={"inputmode": "decimal", "autocomplete": "off"})
    party_id = SelectField("Part de", choices=[], validate_choice=False)

    RAW = ("lot", "reference", "designation", "unit", "quantity", "unit_price_ht", "lump_sum", "amount_ht",
           "party_id")

    def raw(self) -> dict:
        return {name: self[name].data for name in self.RAW}

    def fill_from(self, line) -> PriceLineForm:
        from chorus_chain.domain.money.rounding import fmt_number

        self.lot.data, self.reference.data, self.designation.data, self.unit.data = (
            line.lot, line.reference, line.designation, line.unit)
        self.quantity.data = fmt_number(line.quantity.normalize()) if line.quantity is not None else ""
        self.unit_price_ht.data = fmt_number(line.unit_price_ht.normalize()) if line.unit_price_ht is not None else ""
        self.lump_sum.data = line.lump_sum
        self.amount_ht.data = fmt_number(line.amount_ht) if line.lump_sum else ""
        self.party_id.data = str(line.party_id or "")
        return self


class ImportForm(Form):
    file = FileField("Fichier du bordereau (CSV ou XLSX)", render_kw={"accept": ".csv,.xlsx,.txt"})


class ConfirmImportForm(Form):
    token = HiddenField()


class AssignForm(Form):
    party_id = SelectField("Attribuer les lignes cochées à", choices=[], validate_choice=False)


class StartDecompteForm(Form):
    """A projet de décompte starts from its décompte: the title (party and cadre, carried from the choice), the works
    month, the number and the day; no amount (the décompte gives it), a PDF optional at this step."""

    party_id = HiddenField()
    cadre = HiddenField()
    month = StringField("Mois des travaux", filters=[strip], render_kw={"type": "month", "required": True})
    number = StringField("Numéro de la pièce", validators=[max_length(50)], filters=[strip],
                         render_kw={"autocomplete": "off", "required": True})
    issue_date = StringField("Date d'émission", filters=[strip], render_kw={"type": "date", "required": True})
    main_file = FileField("Document principal (PDF, facultatif maintenant)",
                          render_kw={"accept": ".pdf,application/pdf"})

    def raw(self) -> dict:
        return {name: self[name].data for name in ("party_id", "cadre", "month", "number", "issue_date")}

    def main_upload(self):
        from chorus_chain.blueprints.pieces.forms import uploaded

        return uploaded(self.main_file.data)
