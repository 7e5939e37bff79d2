"""The dashboards (issue 7): the Synthèse (work list with countdowns and inline actions) and the Tableau de bord (counts
and amounts, filters, search, sort, pagination, the panels of each part, the notifications refreshing themselves),
on the small world of tests/integration/pieces_world.py; and a fixed number of SQL queries per page and fragment
whatever the number of pieces.

Pieces are deposited at instants relative to the real clock (the pages count down from it).
"""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.models import Marche, MarcheParty, Piece
from chorus_chain.models.base import utcnow
from chorus_chain.operations import dashboard
from chorus_chain.operations.board_reading import parties
from chorus_chain.operations.marches import today as paris_day
from tests.integration import pieces_world as pw
from tests.integration.db_counts import statements_of
from tests.integration.pieces_world import logged_in as pw_logged_in

HX = {"HX-Request": "true"}


@pytest.fixture
def w(app, db):
    return pw.world(app)


def client_for(app, who: pw.Actor):
    return pw_logged_in(app, who)


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def ago(days: float):
    return utcnow() - timedelta(days=days)


def a10(app, w, number: str, *, days_ago: float = 0, ht: str = "1000.00") -> int:
    """A projet de décompte of st1 (A10, paiement direct: validated first by the mandataire), sent `days_ago`."""
    return pw.deposit(app, w, w.st1, "A10", number, now=ago(days_ago), ht=ht)


def amounts(fragment: str) -> list[str]:
    """The amounts in euros of a piece of page, in order, with plain spaces ("96 000,00")."""
    return [re.sub(r"\s", " ", a) for a in re.findall(r"(\d[\d\s]*,\d\d)\s€", fragment)]


def work_numbers(page: str) -> list[str]:
    items = re.findall(r'data-testid="work-item" data-piece-id="\d+".*?<a class="mono" href="[^"]+">([^<]+)</a>',
                       page, re.S)
    return items


def board_numbers(page: str) -> list[str]:
    return re.findall(r'data-testid="board-row" data-piece-id="\d+">\s*<td><a class="mono" href="[^"]+">([^<]+)</a>',
                      page)


# --- Synthèse --------------------------------------------------------------------------------------------------------

def test_synthese_lists_what_waits_most_urgent_first_with_countdowns(app, w):
    a10(app, w, "ST-NEW")
    a10(app, w, "ST-OLD", days_ago=13.5)
    page = text(client_for(app, w.mandataire).get(f"/s/{w.mandataire.siret}/synthese"))
    assert work_numbers(page) == ["ST-OLD", "ST-NEW"]
    # 1,5 day left: the calendar day of the deadline is tomorrow or the day after, by the hour of the test.
    assert re.search(r"validation tacite dans (un jour|2 jours)", page) and "validation tacite dans 15 jours" in page
    # The actions offered inline: validate, refuse with a reason (a select), each form with its own ids.
    assert 'id="work-' in page and "Valider" in page and "Refuser…" in page
    assert page.count('name="action" value="validate"') == 2
    # The sous-traitant itself has nothing to do: its pieces wait on its contractor.
    st1 = text(client_for(app, w.st1).get(f"/s/{w.st1.siret}/synthese"))
    assert 'data-testid="work-empty"' in st1


def _post_action(client, siret: str, piece_id: int, action: str, status: str, headers=None, **fields):
    data = {"action": action, "expected_status": status}
    data.update({f"p{piece_id}-{action}-{name}": value for name, value in fields.items()})
    return client.post(f"/s/{siret}/synthese/{piece_id}/action", data=data, headers=headers or {})


def test_inline_validate_answers_the_updated_list(app, w):
    done = a10(app, w, "ST-1")
    a10(app, w, "ST-2")
    durand = client_for(app, w.mandataire)
    answer = _post_action(durand, w.mandataire.siret, done, "validate", "A_VALIDER_1", headers=HX)
    body = text(answer)
    assert answer.status_code == 200 and "<html" not in body and body.lstrip().startswith('<section id="work-list"')
    assert work_numbers(body) == ["ST-2"]  # the validated piece left the list; the rest stays
    assert "Pièce n° ST-1 : « valider » fait" in body
    assert pw.status_of(app, done) == "A_ASSOCIER_MOE"
    # The MOE now finds it in its own Synthèse, with the MOE's clock.
    moe = text(client_for(app, w.moe).get(f"/s/{w.moe.siret}/synthese"))
    assert work_numbers(moe) == ["ST-1"] and "état d'acompte attendu du maître d'œuvre dans" in moe


def test_inline_refusal_needs_a_reason_and_changes_nothing_without_it(app, w):
    piece_id = a10(app, w, "ST-3")
    durand = client_for(app, w.mandataire)
    refused = _post_action(durand, w.mandataire.siret, piece_id, "refuse", "A_VALIDER_1", headers=HX)
    body = text(refused)
    assert refused.status_code == 422 and work_numbers(body) == ["ST-3"]
    assert 'aria-invalid="true"' in body and "<details open>" in body.replace("<details  open>", "<details open>")
    assert pw.status_of(app, piece_id) == "A_VALIDER_1"
    ok = _post_action(durand, w.mandataire.siret, piece_id, "refuse", "A_VALIDER_1", headers=HX,
                      reason="non_realise", comment="Travaux non réalisés en février")
    assert ok.status_code == 200 and work_numbers(text(ok)) == []
    assert pw.status_of(app, piece_id) == "REFUSEE_1"


def test_an_actions_fields_come_when_it_is_opened_and_without_javascript_on_a_page(app, w):
    piece_id = a10(app, w, "ST-LAZY")
    durand = client_for(app, w.mandataire)
    siret = w.mandataire.siret
    page = text(durand.get(f"/s/{siret}/synthese"))
    fields_url = f"/s/{siret}/synthese/{piece_id}/action?action=refuse"
    piece_page = f"/s/{siret}/pieces/{piece_id}"
    # The list carries the refusal's button and the address of its fields, not the fields themselves; without
    # JavaScript, a link to the piece's page, where the form is whole.
    assert "Refuser…" in page and f'hx-get="{fields_url}"' in page and f'href="{piece_page}#action-refuse"' in page
    assert f'name="p{piece_id}-refuse-reason"' not in page
    fragment = text(durand.get(fields_url, headers=HX))
    assert fragment.lstrip().startswith('<div class="action-fields">') and "<html" not in fragment
    assert f'name="p{piece_id}-refuse-reason"' in fragment and re.search(r"Confirmer : [Rr]efuser", fragment)
    alone = durand.get(fields_url)
    assert alone.status_code == 303 and alone.headers["Location"].endswith(f"{piece_page}#action-refuse")
    whole = text(durand.get(piece_page))
    assert 'id="action-refuse"' in whole and 'name="refuse-reason"' in whole
    assert durand.get(f"/s/{siret}/synthese/{piece_id}/action?action=nope", headers=HX).status_code == 404
    assert durand.get(f"/s/{siret}/synthese/{piece_id}/action").status_code == 404
    # Someone acted first: the fields are not offered any more, the answer says why.
    pw.act(app, w.mandataire, piece_id, "validate", now=utcnow())
    gone = durand.get(fields_url, headers=HX)
    assert gone.status_code == 409 and "n'est plus possible" in text(gone)
    assert durand.get(fields_url).status_code == 303


def test_a_listed_actions_form_posts_with_its_own_token_and_matches_the_bound_forms(app, w):
    """The Synthèse writes each row's action form without binding a WTForms form (ListedActionForm): its token's
    input must be the bound form's, and what the row posts must pass the CSRF check and act."""
    piece_id = a10(app, w, "ST-CSRF")
    durand = client_for(app, w.mandataire)  # logged in before the check is on (the builders post no token)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        _listed_forms_post_and_match(app, w, durand, piece_id)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def _listed_forms_post_and_match(app, w, durand, piece_id):
    from chorus_chain.blueprints.pieces.forms import ListedActionForm, action_form_class
    from chorus_chain.operations.pieces import ActionChoice

    page = durand.get(f"/s/{w.mandataire.siret}/synthese").get_data(as_text=True)
    form = re.search(rf'<form [^>]*id="work-{piece_id}-validate".*?</form>', page, re.S).group(0)
    data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))
    token = re.search(rf'<input id="p{piece_id}-validate-csrf_token" name="(p{piece_id}-validate-csrf_token)" '
                      r'type="hidden" value="([^"]+)">', form)
    assert token and data.keys() == {"action", "expected_status"}
    data[token.group(1)] = html.unescape(token.group(2))
    refused = durand.post(f"/s/{w.mandataire.siret}/synthese/{piece_id}/action",
                          data={k: v for k, v in data.items() if "csrf" not in k}, headers=HX)
    assert refused.status_code == 400 and pw.status_of(app, piece_id) == "A_VALIDER_1"  # the token is checked
    answer = durand.post(f"/s/{w.mandataire.siret}/synthese/{piece_id}/action", data=data, headers=HX)
    assert answer.status_code == 200 and pw.status_of(app, piece_id) == "A_ASSOCIER_MOE"
    # Every kind of action form: the same token input, the same « asks for something » and « sends files ».
    def choice(action, reason=None, amount=None, paid_on=False, files=None, changes=()):
        return ActionChoice(action=action, label=action, actor_step="x", reason=reason,
                            reasons=(("x", "X"),) if reason else (), amount=amount, paid_on=paid_on, files=files,
                            changes=changes)

    choices = [choice("validate"), choice("refuse", reason="refusal"), choice("resend", changes=("service_code",)),
               choice("mark_paid", amount="required", paid_on=True), choice("complete", files="required")]
    with app.test_request_context("/"):
        for offered in choices:
            form_class = action_form_class(offered, offered.action)
            for prefix in (f"p{piece_id}-{offered.action}", "x-"):
                bound, listed = form_class(formdata=None, prefix=prefix), ListedActionForm(form_class, prefix)
                assert listed.hidden_tag() == bound.hidden_tag() and 'value="' in str(listed.hidden_tag())
                assert listed.has_inputs == bound.has_inputs == any(f.type != "CSRFTokenField" for f in bound)
                assert hasattr(listed, "files") == hasattr(bound, "files") == bool(offered.files)
        app.config["WTF_CSRF_ENABLED"] = False
        form_class = action_form_class(choices[0], "validate")
        assert ListedActionForm(form_class, "p1-validate").hidden_tag() == form_class(formdata=None).hidden_tag()


class _Tokens(HTMLParser):
    """An HTML text as its tags (with their attributes in order) and its words: what a browser reads of it."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tokens: list = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tokens.append(("<", tag, tuple(attrs)))

    def handle_endtag(self, tag):
        self.tokens.append((">", tag))

    def handle_data(self, data):
        if data.strip():
            self.tokens.append(" ".join(data.split()))


def test_the_rows_action_forms_written_in_python_are_the_macros(app, w):
    """`work_actions.listed_action_form` writes a row's action as `pieces/_action_macros.html`'s `action_form` does
    with the Synthèse's URL, target and ids: the same tags, attributes and words, for every action of the table
    (with or without fields, files, a confirmation, the danger or primary style), first in its row or not."""
    from flask import render_template_string

    from chorus_chain.blueprints.dashboard.work_actions import listed_action_form
    from chorus_chain.blueprints.pieces import display
    from chorus_chain.blueprints.pieces.forms import ListedActionForm, action_form_class
    from chorus_chain.domain import transitions as T
    from chorus_chain.operations import pieces_actions
    from chorus_chain.operations.pieces import ActionChoice

    # The macro, imported as the Synthèse imports it (with the page's helpers), called as the Synthèse called it.
    template = ('{% from "pieces/_action_macros.html" import action_form with context %}'
                '{{ action_form(choice, form, p, first, action_url=id_url("dashboard.act", "piece_id", p.id), '
                'action_target="#work-list", action_id="work-" ~ p.id ~ "-" ~ choice.action, '
                'fields_url=id_url("dashboard.action_fields", "piece_id", p.id, action=choice.action)) }}')

    class Row:  # what the macro reads of the piece
        id, status = 4321, "A_VALIDER_1"

    kinds = set()
    with app.test_request_context(f"/s/{w.mandataire.siret}/synthese"):
        from flask import g
        from types import SimpleNamespace
        g.structure = SimpleNamespace(siret=w.mandataire.siret)  # the tenant's URLs (tenancy's url_defaults)
        for action in T.ACTION_LABELS:
            reason = T.REASON_POLICY.get(action)
            choice = ActionChoice(action=action, label=T.ACTION_LABELS[action], actor_step="x", reason=reason,
                                  reasons=(("x", "X"),) if reason else (), amount=T.AMOUNT_POLICY.get(action),
                                  paid_on=action in T.PAID_ON_REQUIRED,
                                  files=pieces_actions.FILES_POLICY.get(action),
                                  changes=pieces_actions.RESEND_FIELDS if action == T.Action.RESEND else ())
            form = ListedActionForm(action_form_class(choice, action), f"p{Row.id}-{action}")
            for first in (True, False):
                expected = render_template_string(template, choice=choice, form=form, p=Row, first=first)
                written = listed_action_form(choice, form, Row.id, Row.status, first)
                assert _Tokens(str(written)).tokens == _Tokens(expected).tokens, (action, first)
            kinds.add((form.has_inputs, hasattr(form, "files"), action in display.IRREVERSIBLE))
    # Every kind of form was seen: fields with and without files, a button with and without a confirmation.
    assert {(True, True, False), (True, False, False), (False, False, True), (False, False, False)} <= kinds, kinds


def test_the_filters_offer_the_marches_of_the_structure_in_their_order(app, w, monkeypatch):
    """`marche_choices` (the filters' id and reference, no objects) is `marches_of` as the filters read it, cut
    after OFFER_MAX + 1."""
    from chorus_chain.models import Marche, MarcheParty, Structure
    from chorus_chain.operations import marches as marches_ops
    from chorus_chain.operations.board_reading import parties

    with app.app_context():
        # A second marché, sorted before the first, where a structure holds two rows (listed once).
        first = db.session.scalars(select(Marche).order_by(Marche.id)).first()
        copy = Marche(**{c.key: getattr(first, c.key) for c in Marche.__table__.columns if c.key != "id"})
        copy.reference = "0-" + first.reference
        db.session.add(copy)
        db.session.flush()
        row = db.session.scalars(select(MarcheParty).where(MarcheParty.marche_id == first.id,
                                                           MarcheParty.status == "confirmed")).first()
        for role in (row.role, "moe" if row.role != "moe" else "moa"):
            db.session.add(MarcheParty(**{c.key: getattr(row, c.key) for c in MarcheParty.__table__.columns
                                          if c.key not in ("id", "marche_id", "role")}, marche_id=copy.id,
                                       role=role))
        db.session.flush()
        seen = 0
        for structure in db.session.scalars(select(Structure)):
            expected = [(m.id, m.reference) for m, _rows in marches_ops.marches_of(structure)]
            assert [tuple(r) for r in marches_ops.marche_choices(structure)] == expected
            seen += len(expected) > 1
        assert seen
        # Beyond OFFER_MAX the filters are search fields: OFFER_MAX + 1 of the marchés tell the page so (any of
        # them: they are cut before they are sorted, so that the read stops there), by reference.
        for bound in (0, 1):
            monkeypatch.setattr(parties, "OFFER_MAX", bound)
            for structure in db.session.scalars(select(Structure)):
                expected = [(m.id, m.reference) for m, _rows in marches_ops.marches_of(structure)]
                found = [tuple(r) for r in marches_ops.marche_choices(structure)]
                assert len(found) == min(bound + 1, len(expected)) and set(found) <= set(expected), structure.id
                assert found == sorted(found, key=lambda row: row[1])
        db.session.rollback()


def test_a_stale_action_says_so_and_the_form_works_without_javascript(app, w):
    piece_id = a10(app, w, "ST-4")
    durand = client_for(app, w.mandataire)
    plain = _post_action(durand, w.mandataire.siret, piece_id, "validate", "A_VALIDER_1")
    assert plain.status_code == 303 and plain.headers["Location"].endswith(f"/s/{w.mandataire.siret}/synthese")
    again = _post_action(durand, w.mandataire.siret, piece_id, "validate", "A_VALIDER_1", headers=HX)
    assert again.status_code == 422 and "déjà été traitée" in text(again)
    assert pw.status_of(app, piece_id) == "A_ASSOCIER_MOE"


def _explanations_inside_the_root(fragment: str) -> list[str]:
    """The ids of the help badges' explanations (help_ui's popovers) written inside the fragment's first element:
    HTMX swaps that element, and the badges' explanations must come and go with it."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Walk(HTMLParser):
        depth, closed = 0, False

        def handle_starttag(self, tag, attrs):
            if tag in ("input", "br", "img", "hr", "meta", "link", "source", "wbr") or self.closed:
                return
            attrs = dict(attrs)
            if self.depth and "popover" in attrs and attrs.get("class") == "help-text":
                found.append(attrs["id"])
            self.depth += 1

        def handle_endtag(self, tag):
            if not self.closed and tag not in ("input", "br", "img", "hr", "meta", "link", "source", "wbr"):
                self.depth -= 1
                self.closed = self.depth == 0

    Walk().feed(fragment)
    return found


def test_the_pages_answer_fragments_to_htmx_and_pages_to_everyone_else(app, w):
    a10(app, w, "ST-5")
    durand = client_for(app, w.mandataire)
    base = f"/s/{w.mandataire.siret}"
    for url, fragment_id in ((f"{base}/synthese", '<section id="work-list"'),
                             (f"{base}/tableau-de-bord", '<div id="board"')):
        full = durand.get(url)
        assert "<html" in text(full) and "HX-Request" in full.headers["Vary"]
        fragment = durand.get(url, headers=HX).get_data(as_text=True)
        assert fragment.lstrip().startswith(fragment_id)
        # Each badge's « ? » opens an explanation the answer carries once, the fragment's inside it (help_ui).
        for answer in (full.get_data(as_text=True), fragment):
            targets = set(re.findall(r'popovertarget="([^"]+)"', answer))
            assert targets and all(answer.count(f'id="{target}"') == 1 for target in targets), url
        assert set(re.findall(r'popovertarget="([^"]+)"', fragment)) == set(_explanations_inside_the_root(fragment))
        assert "<html" in text(durand.get(url, headers={**HX, "HX-History-Restore-Request": "true"}))
        assert "<html" in text(durand.get(url, headers={**HX, "HX-Boosted": "true"}))
    # The notifications panel polls its own fragment; without HTMX it sends to the notifications page.
    assert durand.get(f"{base}/tableau-de-bord/notifications").status_code == 302
    bell = text(durand.get(f"{base}/tableau-de-bord/notifications", headers=HX))
    assert 'hx-trigger="every 60s"' in bell and 'data-testid="unread-count">1<' in bell  # "une pièce vous attend"


def test_the_unread_count_stops_at_99_plus_and_is_counted_once_per_page(app, w):
    from chorus_chain.models import Notification
    from chorus_chain.operations import notifications as notes

    with pw.system(app):
        db.session.add_all(Notification(account_id=w.mandataire.account_id, structure_id=w.mandataire.structure_id,
                                        kind="piece_to_act", text=f"Note {n}", url="") for n in range(120))
    durand = client_for(app, w.mandataire)
    base = f"/s/{w.mandataire.siret}"
    board = text(durand.get(f"{base}/tableau-de-bord"))
    assert 'data-testid="unread-count">99+<' in board and "Notifications : 99+ non lues" in board
    assert 'data-testid="unread-count">99+<' in text(durand.get(f"{base}/tableau-de-bord/notifications", headers=HX))
    with pw.system(app):
        db.session.execute(db.update(Notification).where(Notification.text.in_([f"Note {n}" for n in range(22)]))
                           .values(read_at=utcnow()))
    board = text(durand.get(f"{base}/tableau-de-bord"))
    assert 'data-testid="unread-count">98<' in board and "Notifications : 98 non lues" in board
    assert notes.unread_label(99) == "99" and notes.unread_label(100) == "99+"
    # The bell and the panel of the Tableau de bord share one count.
    statements = statements_of(app, durand, f"{base}/tableau-de-bord")
    assert sum("count(" in s.lower() and "from notification" in s.lower() for s in statements) == 1


def test_choosing_a_structure_lands_on_its_synthese(app, w):
    durand = client_for(app, w.mandataire)
    page = text(durand.get("/compte/structures"))
    assert f'href="/s/{w.mandataire.siret}/synthese"' in page
    nav = text(durand.get(f"/s/{w.mandataire.siret}/synthese"))
    assert 'aria-current="page">Synthèse' in nav and f'href="/s/{w.mandataire.siret}/tableau-de-bord"' in nav


# --- Tableau de bord -------------------------------------------------------------------------------------------------

def test_board_counts_and_amounts_by_status_and_by_marche(app, w):
    first = a10(app, w, "ST-10", ht="1000.00")
    a10(app, w, "ST-11", ht="2500.00")
    pw.act(app, w.mandataire, first, "validate", now=utcnow())
    page = text(client_for(app, w.mandataire).get(f"/s/{w.mandataire.siret}/tableau-de-bord"))
    by_status = page.split('data-testid="by-status"')[1].split("</section>")[0]
    assert re.search(r'data-status="A_VALIDER_1">.*?<td class="num">1</td><td class="num">2\s500,00\s€', by_status, re.S)
    assert re.search(r'data-status="A_ASSOCIER_MOE">.*?<td class="num">1</td><td class="num">1\s000,00\s€', by_status,
                     re.S)
    by_marche = page.split('data-testid="by-marche"')[1].split("</section>")[0]
    assert re.search(r"<td>M-\d+-travaux</td><td class=\"num\">2</td><td class=\"num\">2</td>\s*"
                     r"<td class=\"num\">3\s500,00\s€</td>", by_marche)


def test_board_without_the_rights_to_read_pieces_says_why_and_sends_no_list(app, w):
    """A member who may read its structure's sent invoices but neither the received ones nor the works pieces: the
    page says which right is missing; the list's fragment (the filters' HTMX target) has nothing to send — a 403,
    where the template's fragment failed on the missing counts (a 500)."""
    from chorus_chain.models import Structure
    from tests import factories

    with app.app_context():
        structure = db.session.get(Structure, w.mandataire.structure_id)
        db.session.expunge(structure)
    client = factories.member_client(app, structure, emises="consultation", travaux="none", recues="none")
    url = f"/s/{w.mandataire.siret}/tableau-de-bord"
    page = client.get(url)
    assert page.status_code == 200 and "ne couvrent pas les pièces" in text(page)
    assert 'id="board"' not in text(page)
    assert client.get(url + "?status=DEPOSEE", headers=HX).status_code == 403


def test_board_filters_search_sort_and_pages(app, w, monkeypatch):
    from chorus_chain.blueprints.dashboard import views

    for n, ht in enumerate(("3000.00", "1000.00", "2000.00")):
        a10(app, w, f"ST-2{n}", ht=ht, days_ago=3 - n)
    pw.deposit(app, w, w.sibling, "A10", "CA-1", now=ago(1))
    durand = client_for(app, w.mandataire)
    base = f"/s/{w.mandataire.siret}/tableau-de-bord"
    assert board_numbers(text(durand.get(base, headers=HX))) == ["CA-1", "ST-22", "ST-21", "ST-20"]
    assert board_numbers(text(durand.get(f"{base}?number=st-2", headers=HX))) == ["ST-22", "ST-21", "ST-20"]
    assert board_numbers(text(durand.get(f"{base}?party_id={w.sibling.party_id}", headers=HX))) == ["CA-1"]
    # CA-1 (the sibling's, 1 000 € HT) ties with ST-21: the ascending order then goes by id (CA-1 was sent last).
    assert board_numbers(text(durand.get(f"{base}?tri=montant", headers=HX))) == ["ST-21", "CA-1", "ST-22", "ST-20"]
    assert board_numbers(text(durand.get(f"{base}?tri=-montant&number=ST", headers=HX))) == ["ST-20", "ST-22", "ST-21"]
    day = paris_day(utcnow() - timedelta(days=2)).isoformat()  # the filter reads days in Paris
    assert set(board_numbers(text(durand.get(f"{base}?du={day}", headers=HX)))) == {"CA-1", "ST-22", "ST-21"}
    assert board_numbers(text(durand.get(f"{base}?status=REFUSEE_1", headers=HX))) == []
    monkeypatch.setattr(views, "BOARD_PER_PAGE", 2)
    first = text(durand.get(f"{base}?tri=numero&number=ST", headers=HX))
    assert board_numbers(first) == ["ST-20", "ST-21"] and "3 pièces" in first and "avant=" not in first
    # Keyset pages (issue 20): the link carries the last row shown, the filters and the sort.
    link = re.search(r'href="([^"]+apres=[^"]*)"', first).group(1)
    assert "tri=numero" in link and "number=ST" in link and "page=" not in link
    second = text(durand.get(link, headers=HX))
    assert board_numbers(second) == ["ST-22"] and "apres=" not in second
    back = re.search(r'href="([^"]+avant=[^"]*)"', second).group(1)
    assert board_numbers(text(durand.get(back, headers=HX))) == ["ST-20", "ST-21"]


def test_holder_panel_validations_tacit_and_amounts_per_subcontractor(app, w):
    a10(app, w, "ST-30", ht="40000.00")
    tacit = a10(app, w, "ST-31", ht="50000.00", days_ago=20)
    with pw.system(app):
        from chorus_chain.operations import deadlines as sweep_ops

        sweep_ops.sweep(now=utcnow())
    assert pw.status_of(app, tacit) == "A_ASSOCIER_MOE"
    page = text(client_for(app, w.mandataire).get(f"/s/{w.mandataire.siret}/tableau-de-bord"))
    panel = page.split('data-testid="panel-holder"')[1].split("</section>")[0]
    assert "ST-30" in panel.split("Validées tacitement")[0]
    assert "ST-31" in panel.split('data-testid="tacit-list"')[1]
    row = re.search(rf'data-party-id="{w.st1.party_id}".*?</tr>', panel, re.S).group(0)
    # 96 000 accepted; 90 000 invoiced (autoliquidation: HT = TTC); 50 000 validated (tacitly); nothing paid.
    assert amounts(row) == ["96 000,00", "90 000,00", "50 000,00", "0,00"]
    assert 'data-testid="ceiling-near"' in row  # 94 % of the DC4 amount
    assert 'data-testid="panel-moa"' not in page and 'data-testid="panel-moe"' not in page


def _through_moe_and_moa(app, w, piece_id, when):
    pw.act(app, w.mandataire, piece_id, "validate", now=when)
    pw.act(app, w.moe, piece_id, "take", now=when)
    pw.act(app, w.moe, piece_id, "issue_etat_acompte", now=when)
    pw.act(app, w.moa, piece_id, "moa_take", now=when)
    pw.act(app, w.moa, piece_id, "moa_validate", now=when)


def test_sous_traitant_tracks_each_payment_and_who_it_waits_on(app, w):
    piece_id = a10(app, w, "ST-40", days_ago=5)
    _through_moe_and_moa(app, w, piece_id, ago(4))
    a10(app, w, "ST-41")
    page = text(client_for(app, w.st1).get(f"/s/{w.st1.siret}/tableau-de-bord"))
    panel = page.split('data-testid="panel-sous-traitant"')[1].split("</section>")[0]
    tracked = re.search(rf'data-piece-id="{piece_id}".*?</article>', panel, re.S).group(0)
    done = re.findall(r'<li class="done" data-step="(\w+)"', tracked)
    assert done == ["deposit", "validated", "taken", "etat", "moa"]
    assert 'data-step="paid"' in tracked and "pas encore" in tracked
    assert "Service financier (paiement) : Commune de Test" in tracked
    waiting = re.search(r'data-piece-id="\d+".*?</article>', panel, re.S).group(0)  # newest first: ST-41
    assert "ST-41" in waiting and "Validation par le donneur d'ordre : Durand Test" in waiting


def test_moe_and_moa_panels_with_the_payment_clock_and_interest(app, w):
    to_take = a10(app, w, "ST-50")
    pw.act(app, w.mandataire, to_take, "validate", now=utcnow())
    late = a10(app, w, "ST-51", ht="10000.00", days_ago=45)
    _through_moe_and_moa(app, w, late, ago(44))
    moe = text(client_for(app, w.moe).get(f"/s/{w.moe.siret}/tableau-de-bord"))
    panel = moe.split('data-testid="panel-moe"')[1].split("</section>")[0]
    assert "ST-50" in panel.split("États d'acompte à émettre")[0]
    # No état d'acompte in preparation (the piece's état was issued by its action): the panel says so (the marchés
    # with a draft: test_etats_in_preparation).
    assert 'data-testid="etats-none"' in panel and 'data-testid="etats-by-marche"' not in panel
    moa = text(client_for(app, w.moa).get(f"/s/{w.moa.siret}/tableau-de-bord"))
    panel = moa.split('data-testid="panel-moa"')[1].split("</section>")[0]
    assert "ST-51" in panel.split("Délai global de paiement")[1]
    # The clock counts whole days between instants; the interest counts calendar days in Paris (the receipt 44 days
    # ago may fall on the next day in Paris, in summer time, late in the evening UTC): 13 or 14 days, each consistent.
    assert re.search(r"paiement en retard de 1[34] jours", panel)
    with pw.system(app):
        received = db.session.get(Piece, late).received_at
    days = (paris_day(utcnow()) - (paris_day(received) + timedelta(days=30))).days
    # 10 000 € × (2,15 + 8) % × days / 365 (14 days: 38,93 €), plus the flat 40 €.
    interest = (Decimal("10000") * Decimal("0.1015") * days / 365).quantize(Decimal("0.01"), ROUND_HALF_UP) + 40
    assert days in (13, 14)
    shown = f"{interest:.2f}".replace(".", ",")
    assert re.search(rf'data-testid="interest">.*?{shown}\s€', panel, re.S), shown
    assert 'data-testid="interest-total"' in panel


# --- Cost ------------------------------------------------------------------------------------------------------------

def _pieces(app, w, start: int, count: int):
    """`count` more pieces across every stage: waiting for validation, at the MOE, paid late, a tacit one."""
    for n in range(start, start + count):
        piece_id = a10(app, w, f"Q-{n}", days_ago=40)
        if n % 3 == 1:
            pw.act(app, w.mandataire, piece_id, "validate", now=ago(39))
        elif n % 3 == 2:
            _through_moe_and_moa(app, w, piece_id, ago(39))
    pw.deposit(app, w, w.cotraitant, "A13", f"CO-{start}", now=ago(2))
    # A projet de décompte the MOE let wait past its 7 days, referred by its emitter to the MOA: the MOA's Synthèse
    # decides its actions from its history (it read it once per row, 72 queries on the benchmark's world).
    referred = a10(app, w, f"R-{start}", days_ago=40)
    pw.act(app, w.mandataire, referred, "validate", now=ago(39))
    pw.act(app, w.moe, referred, "take", now=ago(38))
    _sweep(app, ago(30))
    pw.act(app, w.st1, referred, "refer_to_moa", now=ago(29))


def _sweep(app, now) -> None:
    from chorus_chain.operations.deadlines import sweep

    with app.test_request_context():  # no tenant: the sweep reads across tenants
        sweep(now)
        db.session.commit()


def test_the_work_lists_actions_are_each_pieces_own_with_the_facts_read_with_its_rows(app, w):
    """The Synthèse reads with its rows whether an état carries each piece and whether the titulaire referred it to
    the MOA (synthese.reading): the actions it offers are those each piece's own queries would give."""
    from chorus_chain.operations import pieces as ops

    _pieces(app, w, 0, 3)
    referred = {}
    for who in (w.moa, w.moe, w.mandataire):
        with pw.acting(app, who) as (_, structure):
            work = dashboard.work_list(structure, works=None, per_page=50)
            assert work.page.items, who.key
            for row in work.page.items:
                expected = [c.action for c in ops.allowed_actions_for(row.piece, structure)]
                assert [c.action for c in work.choices[row.piece.id]] == expected, (who.key, row.piece.number)
                if row.piece.number.startswith("R-"):
                    referred[who.key] = expected
    assert referred == {"moa": ["return_etat"]}  # the referral was read: only « back to the MOE's état »


def test_every_dashboard_page_costs_the_same_queries_whatever_the_number_of_pieces(app, w):
    views = [(w.mandataire, "/synthese"), (w.mandataire, "/tableau-de-bord"), (w.st1, "/tableau-de-bord"),
             (w.moe, "/tableau-de-bord"), (w.moa, "/tableau-de-bord"), (w.moa, "/synthese"),
             (w.st1, "/tresorerie"), (w.mandataire, "/tresorerie"), (w.moa, "/tresorerie")]
    fragments = [(w.mandataire, "/synthese"), (w.mandataire, "/tableau-de-bord?tri=montant"),
                 (w.mandataire, "/tableau-de-bord/notifications")]
    clients = {who.key: client_for(app, who) for who in (w.mandataire, w.st1, w.moe, w.moa)}
    urls = ([(clients[who.key], f"/s/{who.siret}{path}", None) for who, path in views]
            + [(clients[who.key], f"/s/{who.siret}{path}", HX) for who, path in fragments])
    _pieces(app, w, 0, 3)
    for client, url, headers in urls:
        statements_of(app, client, url, headers)  # warm-up
    before = [len(statements_of(app, client, url, headers)) for client, url, headers in urls]
    _pieces(app, w, 3, 27)
    after = [len(statements_of(app, client, url, headers)) for client, url, headers in urls]
    assert after == before, list(zip([u for _, u, _ in urls], before, after))
    print("queries per page and fragment:", list(zip([u for _, u, _ in urls], after)))
    assert max(after) <= 25, after


# What the Tableau de bord costs in statements, per part played (issue 20): the request's floor (the account with
# its structure and membership: one statement), the filter's companies with the structure's own parties (its
# marchés, its parts), « Par statut » with « Par marché », the list, the panels of each part (the waiting panels of
# every part and the holder's tacit validations in one; the corrections or payments with the interest owed or to pay
# in one), the bell with the unread notifications, the overdue private invoices. Lower it when a change saves one; a
# change that adds one says why here.
BOARD_STATEMENTS = {"mandataire": 9, "st1": 10, "moe": 9, "moa": 9}


def test_the_tableau_de_bord_runs_no_more_statements_than_counted(app, w):
    _pieces(app, w, 0, 3)
    found = {}
    for who in (w.mandataire, w.st1, w.moe, w.moa):
        client, url = client_for(app, who), f"/s/{who.siret}/tableau-de-bord"
        statements_of(app, client, url)  # warm-up: what a first request reads once per process is not the page's
        # The test's own savepoint around the request (`db`'s outer transaction) is not the page's.
        found[who.key] = [s for s in statements_of(app, client, url) if "SAVEPOINT" not in s]
    counted = {key: len(statements) for key, statements in found.items()}
    assert all(counted[key] <= ceiling for key, ceiling in BOARD_STATEMENTS.items()), (
        counted, {key: [" ".join(s.split())[:80] for s in found[key]] for key in counted
                  if counted[key] > BOARD_STATEMENTS[key]})
    print("Tableau de bord statements per account:", counted)


def _history(app, w, count: int) -> None:
    """`count` more marchés of the world's MOA, long finished: the mandataire holds each, the Plâtrerie (st1) works
    under it, the Atelier is its maître d'œuvre — a structure's history, which its Tableau de bord must not read
    whole."""
    with app.app_context():
        for n in range(count):
            marche = Marche(reference=f"HIST-{n:03d}", objet="Travaux terminés", kind="travaux",
                            moa_service_code="TECH", engagement_number=f"EJ-H-{n}", paying_service_code="FIN",
                            montant_ht=Decimal("100000.00"), tva_rate=Decimal("20.00"), dgp_days=30, moe_days=7,
                            groupement="conjoint", created_by_id=w.moa.structure_id)
            db.session.add(marche)
            db.session.flush()
            holder = MarcheParty(marche_id=marche.id, structure_id=w.mandataire.structure_id,
                                 siret=w.mandataire.siret, name=w.mandataire.name, role="mandataire",
                                 montant_ttc=Decimal("100000.00"), status="confirmed")
            db.session.add_all([holder, MarcheParty(marche_id=marche.id, structure_id=w.moe.structure_id,
                                                    siret=w.moe.siret, name=w.moe.name, role="moe",
                                                    status="confirmed")])
            db.session.flush()
            db.session.add(MarcheParty(marche_id=marche.id, structure_id=w.st1.structure_id, siret=w.st1.siret,
                                       name=w.st1.name, role="sous_traitant", parent_id=holder.id,
                                       montant_ttc=Decimal("10000.00"), status="confirmed", dc4_status="accepted",
                                       accepted_on=date(2026, 1, 15)))
        db.session.commit()


def _parameters_of(app, client, url: str) -> list[tuple[int, str]]:
    """(bound parameters, statement) of each SQL statement one GET of `url` runs (it must answer 200)."""
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    seen: list[tuple[int, str]] = []

    def record(conn, cursor, statement, parameters, *args):
        count = len(parameters) if isinstance(parameters, (dict, list, tuple)) else 0
        seen.append((count, " ".join(statement.split())[:100]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200, response.status_code
    return seen


# No statement of a Tableau de bord binds more values than this, whatever the structure's history: its parties, its
# marchés, its sous-traitants are read through the structure in the statement that needs them, never passed back as
# a list of ids (an expanding IN of hundreds of parameters at a million pieces: « Montants par entreprise », the
# MOE's états, the tracker's lines). The largest today: the tracker's events (the milestones' actions, and the ids of
# the pieces it shows: at most PANEL_SIZE), 37.
MOST_PARAMETERS = 40


def test_no_statement_of_the_tableau_de_bord_grows_with_the_structures_marches(app, w):
    """A titulaire, a sous-traitant and a maître d'œuvre that worked on 60 more marchés: each statement of their
    Tableau de bord binds as many values as before that history, and no more than MOST_PARAMETERS; the page still
    tells their parts and sums what is under them."""
    _pieces(app, w, 0, 3)
    accounts = (w.mandataire, w.st1, w.moe, w.moa)
    clients = {who.key: client_for(app, who) for who in accounts}

    def largest() -> dict[str, tuple[int, str]]:
        found = {}
        for who in accounts:
            url = f"/s/{who.siret}/tableau-de-bord"
            _parameters_of(app, clients[who.key], url)  # warm-up: what a process reads once is not the page's
            found[who.key] = max(_parameters_of(app, clients[who.key], url))
        return found

    def companies() -> int:
        page = text(clients[w.mandataire.key].get(f"/s/{w.mandataire.siret}/tableau-de-bord"))
        assert 'data-testid="panel-holder"' in page
        return int(re.search(r"Toutes les entreprises \((\d+)\)", page).group(1))

    before, under = largest(), companies()
    _history(app, w, 60)
    after = largest()
    assert {key: count for key, (count, _) in after.items()} == {key: count for key, (count, _) in before.items()}, (
        before, after)
    assert all(count <= MOST_PARAMETERS for count, _ in after.values()), after
    # The history is there, read through the structure: the titulaire's sous-traitant on 60 more marchés, the
    # marché filter a search field beyond OFFER_MAX marchés.
    assert companies() == under + 60
    assert 'name="marche"' in text(clients[w.mandataire.key].get(f"/s/{w.mandataire.siret}/tableau-de-bord"))
    with pw.acting(app, w.mandataire) as (_, structure):
        assert len(dashboard.own_parties(structure).marches) == parties.OFFER_MAX + 1  # read no further
        last = db.session.scalar(select(Marche.id).where(Marche.reference == "HIST-059"))
    # A marché beyond those read, chosen (a bookmark): the search field names it.
    chosen = text(clients[w.mandataire.key].get(f"/s/{w.mandataire.siret}/tableau-de-bord?marche_id={last}"))
    assert 'value="HIST-059"' in chosen and f'name="marche_id" value="{last}"' in chosen
    st1 = text(clients[w.st1.key].get(f"/s/{w.st1.siret}/tableau-de-bord"))
    assert 'data-testid="panel-sous-traitant"' in st1 and 'name="marche"' in st1
    moe = text(clients[w.moe.key].get(f"/s/{w.moe.siret}/tableau-de-bord"))
    assert 'data-testid="panel-moe"' in moe and 'data-testid="etats-none"' in moe
