"""The Tableau de bord's filter fields, written in Python: what `_form_macros.html`'s `field` macro writes for a
field of `BoardFilterForm` that shows no error, from parts escaped once per process.

Through the macro and WTForms (`render_field`, `html_params`, a formatted Markup per attribute and per option) the
seven fields cost about a tenth of the page's CPU on every request (bench/page_cpu.py), though most of what they
write never changes: the labels, the attributes of the inputs, the options of the cadres and the statuses. Here an
input is its opening written once by WTForms itself around a marker value (its attributes are sorted by name,
`value` last), the options of a select are escaped once per list of choices, and what varies between two requests is
the value typed and the option selected. A field with errors (never on this GET form, which is not validated) goes
through WTForms as before. tests/integration/test_dashboard.py compares both writers over many states of the form.

The Synthèse's one filter, its marché, is a plain select of the structure's marchés (`marche_options`) up to
`parties.OFFER_MAX` of them; beyond, the search field every marché filter writes (`search_fields.html`) — at a
million pieces the benchmark's busy accounts have 180 to 819 marchés, which the select wrote as options on every
Synthèse.
"""
from __future__ import annotations

from functools import lru_cache

from markupsafe import Markup, escape
from wtforms import SelectField, StringField
from wtforms.widgets import Input, html_params

from chorus_chain.blueprints.forms import ListSelect
from chorus_chain.blueprints.search_fields import html as search_html

_MARK = "\x00chorus-value\x00"  # no text typed in a form holds it (the input rules refuse control characters)


_INPUT_PARTS: dict[tuple, tuple[str, str] | None] = {}


def _input_html(field) -> str | None:
    """The input with its value: its HTML before and after the value as WTForms wrote it the first time the process
    met this input (every attribute but the value is the field's own: its type, id, name, `render_kw` and the flags
    of its validators, all in the key), the value escaped as WTForms escapes it. None: WTForms must write it."""
    key = (type(field), type(field.widget), field.id, field.name, tuple(sorted((field.render_kw or {}).items())),
           tuple(sorted(vars(field.flags).items())))
    parts = _INPUT_PARTS.get(key, False)
    if parts is False:
        written = str(field(value=_MARK))
        pieces = written.split(str(escape(_MARK)))
        parts = _INPUT_PARTS[key] = (pieces[0], pieces[1]) if len(pieces) == 2 else None
    if parts is None:
        return None
    return f"{parts[0]}{escape(field._value())}{parts[1]}"


@lru_cache(maxsize=512)
def _options(choices: tuple[tuple[str, str], ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Each option unselected and selected, as `forms.ListSelect.render_option` writes them."""
    plain, chosen = [], []
    for value, label in choices:
        text = f'value="{escape(value)}">{escape(label or value)}</option>'
        plain.append(f"<option {text}")
        chosen.append(f"<option selected {text}")
    return tuple(plain), tuple(chosen)


def select_html(field: SelectField, **attributes) -> Markup:
    """The field's select (`forms.ListSelect` for plain text choices), `attributes` added to its tag; WTForms itself
    for choices it writes otherwise (attributes of their own, groups, values that are not text)."""
    choices = field.choices or []
    if field.flags.required or field.flags.disabled or any(
            choice.render_kw or choice.optgroup is not None or not isinstance(choice.value, str) for choice in choices):
        return Markup(field(**attributes))
    plain, chosen = _options(tuple((choice.value, choice.label) for choice in choices))
    data, coerce = field.data, field.coerce
    options = "".join(chosen[index] if coerce(choice.value) == data else plain[index]
                      for index, choice in enumerate(choices))
    opening = _select_opening(field.id, field.name, tuple(sorted(attributes.items())))
    return Markup(f"{opening}{options}</select>")


@lru_cache(maxsize=64)
def _select_opening(field_id: str, name: str, attributes: tuple) -> str:
    return f"<select {html_params(id=field_id, name=name, **dict(attributes))}>"


def _control(field) -> str:
    if isinstance(field, SelectField) and isinstance(field.widget, ListSelect) and not field.widget.multiple:
        return select_html(field)
    if isinstance(field, StringField) and isinstance(field.widget, Input) and field.widget.input_type != "password":
        written = _input_html(field)
        if written is not None:
            return written
    return str(field())


def filter_field(field, help: str | None = None, search=None) -> Markup:
    """`{{ field(f, help=help) }}` of `_form_macros.html` for a field of the filter form; with `search`
    (`search_fields.search.Search`), the marché or company field written as a search field
    (`search_fields.html.search_field`)."""
    if search is not None:
        return search_html.search_field(field.id, field.name, field.label.text, search)
    if field.errors or field.type == "BooleanField":
        from flask import get_template_attribute

        return get_template_attribute("_form_macros.html", "field")(field, help=help)
    help_html = (f'<small class="help" id="{escape(field.id)}-help">{escape(help)}</small>' if help else "")
    return Markup(f'\n  <div class="field  ">\n    \n      {_label(field.id, field.label.text)}\n      '
                  f'{help_html}\n      {_control(field)}\n    \n    \n  </div>\n')


@lru_cache(maxsize=64)
def _label(field_id: str, text: str) -> str:
    return f'<label for="{escape(field_id)}">{escape(text)}</label>'


def marche_options(marches, chosen: int | None) -> Markup:
    """The options of the Synthèse's marché filter, as `synthese.html`'s loop wrote them: one per (id, reference) of
    `marches` (`marches.marche_choices`: at most OFFER_MAX of them written), the chosen marché's marked `selected`.
    Half the CPU of the template's loop; tests/unit/test_filter_fields.py compares both."""
    return Markup("".join(f'<option value="{marche.id}"{" selected" if marche.id == chosen else ""}>'
                          f'{escape(marche.reference)}</option>' for marche in marches))
