"""The Tableau de bord's filters: the pieces' filter form (marché, type, status, number) plus the emitting company and
the deposit period. A GET form: the values travel in the URL, so a filtered view can be bookmarked and the back
button restores it."""
from __future__ import annotations

from datetime import date

from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from chorus_chain.blueprints.dashboard import board_filters
from chorus_chain.blueprints.forms import ListSelect, max_length, strip
from chorus_chain.domain import dates as date_rules
from chorus_chain.blueprints.pieces.forms import FilterForm
from chorus_chain.operations.dashboard import Filters


def _day(value: str | None) -> date | None:
    try:
        return date_rules.parse_iso_day(value or "")
    except ValueError:
        return None


class BoardFilterForm(FilterForm):
    NAMES = ("marche_id", "party_id", "cadre", "status", "number", "du", "au", "tri")

    party_id = SelectField("Entreprise émettrice", validate_choice=False, choices=[], widget=ListSelect())
    # The Tableau de bord's search is « starts with » (operations.dashboard.number_condition): the hint says so.
    number = StringField("N° de pièce (début)", validators=[Optional(), max_length(20)], filters=[strip],
                         render_kw={"type": "search", "autocomplete": "off", "placeholder": "ex. DB-PDM",
                                    "hx-trigger": "input changed delay:400ms, search", "hx-include": "closest form"})
    du = StringField("Envoyées depuis le", validators=[Optional(), max_length(10)], filters=[strip],
                     render_kw={"type": "date"})
    au = StringField("Jusqu'au", validators=[Optional(), max_length(10)], filters=[strip],
                     render_kw={"type": "date"})

    def set_choices(self, marches, parties=()) -> BoardFilterForm:
        super().set_choices(marches)
        self.party_id.choices = [SelectChoice("", "Toutes les entreprises")] + [
            SelectChoice(str(party_id), board_filters.party_label(name, role, reference))
            for party_id, name, role, reference in parties]
        return self

    def set_searches(self, marche: board_filters.Search | None,
                     party: board_filters.Search | None) -> BoardFilterForm:
        """The marché and the company of the filters written as search fields (`board_filters`): what each holds
        once its text is read, the one company chosen its only choice (`filters` offers none other)."""
        if marche is not None:
            self.marche_id.data = "" if marche.value is None else str(marche.value)
        if party is not None:
            self.party_id.choices = [SelectChoice("", "Toutes les entreprises")] + (
                [] if party.value is None else [SelectChoice(str(party.value), party.text)])
            self.party_id.data = "" if party.value is None else str(party.value)
        return self

    def filters(self) -> Filters:
        """The filters the operations read; a value that is not understood (a date typed by hand, an unknown
        status) is left out rather than refused: a filter narrows, it never breaks the page."""
        party_id = self.int_or_none("party_id")
        if party_id is not None and str(party_id) not in {choice.value for choice in self.party_id.choices}:
            party_id = None  # a company the filter does not offer: not a filter at all (the offer is what it sees)
        return Filters(marche_id=self.int_or_none("marche_id"), party_id=party_id,
                       cadre=self.cadre_filter(), status=self.status_filter(), deposited_from=_day(self.du.data),
                       deposited_to=_day(self.au.data), number=self.number.data or None)
