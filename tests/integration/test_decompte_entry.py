"""A works piece starts from its décompte (issue 15): choose the title and the month (after the last décompte), enter
the cumul per line, see the amounts follow, then send — no amount invented, « Envoyer la pièce » offered only when the
piece can be sent, and a figure typed in one row answered without ever sending back an input."""
from __future__ import annotations

import html
import json
import re
from decimal import Decimal

from chorus_chain.models.base import utcnow
from chorus_chain.models.money import Decompte
from chorus_chain.operations.marches import today
from tests.integration.pieces_world import PDF, create, piece, rows
from tests.integration.test_decomptes import _deposit, _login, _save, w  # noqa: F401 - the fixture

D = Decimal
HX = {"HX-Request": "true"}


def _start_url(w, who):
    return f"/s/{who.siret}/marches/{w.marche_id}/projet-de-decompte"


def _month_before_today() -> str:
    first = today(utcnow()).replace(day=1)
    year, month = (first.year - 1, 12) if first.month == 1 else (first.year, first.month - 1)
    return f"{year:04d}-{month:02d}"


def test_the_choices_send_a_pdm_to_its_decompte_not_to_an_amount_form(app, w, client):
    _login(client, app, w.st1)
    choices = client.get(f"/s/{w.st1.siret}/pieces/nouvelle?marche_id={w.marche_id}").get_data(as_text=True)
    assert "Saisir le décompte" in choices and "projet-de-decompte" in choices
    # The old way in (a bookmark, the help article's link) lands on the décompte's start too.
    old = client.get(f"/s/{w.st1.siret}/pieces/nouvelle/{w.marche_id}?party_id={w.st1.party_id}&cadre=A10")
    assert old.status_code == 303 and "/projet-de-decompte" in old.headers["Location"]


def test_the_month_defaults_to_the_month_after_the_last_decompte(app, w, client):
    _login(client, app, w.st1)
    url = _start_url(w, w.st1) + f"?party_id={w.st1.party_id}&cadre=A10"
    page = client.get(url).get_data(as_text=True)
    main = page[page.find("<main"):page.find("</main>")]
    assert f'value="{_month_before_today()}"' in page, main  # the first one: last month's works
    assert "Montant HT" not in page and "laissez-les vides" not in page  # no amount to type, nothing invented
    first = create(app, w, w.st1, "A10", "PDM-1", montant_ht="", montant_tva="", montant_ttc="")
    _save(app, w.st1, first, month="2026-02", **{f"m_{w.lines['st1_unit']}": "2"})
    _deposit(app, w.st1, first)
    page = client.get(url).get_data(as_text=True)
    assert 'value="2026-03"' in page and 'value="PDM-2026-03"' in page


def test_start_enter_the_cumul_see_it_follow_then_send(app, w, client):
    _login(client, app, w.st1)
    start = client.post(_start_url(w, w.st1), data={
        "party_id": str(w.st1.party_id), "cadre": "A10", "month": _month_before_today(), "number": "PDM-START",
        "issue_date": today(utcnow()).isoformat(), "main_file": (__import__("io").BytesIO(PDF), "situation.pdf")},
        content_type="multipart/form-data")
    assert start.status_code == 303, start.get_data(as_text=True)[-1500:]
    url = start.headers["Location"]
    assert url.endswith("/decompte")
    piece_id = int(re.search(r"/pieces/(\d+)/decompte", url).group(1))
    assert piece(app, piece_id).montant_ht == D("0.00") and piece(app, piece_id).status == "BROUILLON"
    assert [d.month for d in rows(app, Decompte, Decompte.piece_id == piece_id)] == [_month_before_today()]

    page = client.get(url).get_data(as_text=True)
    assert "Saisissez le cumul à ce jour" in page  # at 0 € nothing can be sent…
    assert 'value="send"' not in page  # …so « Envoyer la pièce » is not offered

    unit = w.lines["st1_unit"]
    typed = {"intent": "preview", "row": str(unit), "month": _month_before_today(), f"m_{unit}": "3"}
    answer = client.post(url, data=typed, headers=HX)
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "<input" not in body.replace('<input type="hidden"', "")  # never an input the user may be typing in
    # The row's amount follows, saying the figure it was computed from (the page applies it only while the input
    # still holds that figure)…
    assert f'id="amount-{unit}" hx-swap-oob="true" data-computed-for="m_{unit}" data-computed-from="3">300,00' in body
    # …and the totals, computed from every figure as sent.
    totals = re.search(r'<div id="totals" hx-swap-oob="true" data-computed-for="\*" data-computed-from="([^"]*)">', body)
    assert totals and html.unescape(totals.group(1)) == json.dumps({f"m_{unit}": "3"}) and "300,00" in body
    assert "value=\"send\"" in body, body[body.find("send-panel"):]  # now it can be sent: the panel offers it, with what cannot be undone
    assert "ne peut plus être modifié" in body
    assert piece(app, piece_id).montant_ht == D("0.00")  # a preview keeps nothing
    # A figure that cannot be read: its row says why, and the send panel no longer offers to send (never « Prêt »).
    unreadable = client.post(url, data={**typed, f"m_{unit}": "3,,5"}, headers=HX)
    body = unreadable.get_data(as_text=True)
    assert unreadable.status_code == 422 and f'id="problems-{unit}"' in body
    assert 'value="send"' not in body and "Avant l'envoi" in body

    sent = client.post(url, data={**typed, "intent": "send"}, headers=HX)
    assert sent.status_code == 200 and sent.headers["HX-Redirect"].endswith(f"/pieces/{piece_id}")
    done = piece(app, piece_id)
    assert done.status != "BROUILLON" and done.montant_ht == D("300.00")  # what was seen is what was sent


def test_a_row_typed_wrong_answers_in_that_row(app, w, client):
    piece_id = create(app, w, w.st1, "A10", "PDM-ERR", montant_ht="", montant_tva="", montant_ttc="")
    _login(client, app, w.st1)
    unit = w.lines["st1_unit"]
    url = f"/s/{w.st1.siret}/pieces/{piece_id}/decompte"
    answer = client.post(url, data={"intent": "preview", "row": str(unit), "month": "2026-02", f"m_{unit}": "3,,5"},
                         headers=HX)
    body = answer.get_data(as_text=True)
    assert answer.status_code == 422 and f'id="problems-{unit}"' in body and "Ligne S1" in body
    assert "<input" not in body


def test_a_total_below_the_previous_decompte_still_answers_every_row_as_typed(app, w, client):
    """Typing a cumul below last month's makes the total negative: the save is refused, but the preview still
    computes each row from the figure typed (issue 15: the rows kept, greyed, the amounts of the figure replaced —
    « 36 000,00 € » beside « 575 » — since the refusal answered no row)."""
    import pytest

    from chorus_chain.operations import OperationError

    unit = w.lines["st1_unit"]
    first = create(app, w, w.st1, "A10", "PDM-NEG-1", montant_ht="", montant_tva="", montant_ttc="")
    _save(app, w.st1, first, month="2026-01", **{f"m_{unit}": "4"})
    _deposit(app, w.st1, first)
    second = create(app, w, w.st1, "A10", "PDM-NEG-2", montant_ht="", montant_tva="", montant_ttc="")
    _login(client, app, w.st1)
    url = f"/s/{w.st1.siret}/pieces/{second}/decompte"
    answer = client.post(url, data={"intent": "preview", "row": str(unit), "month": "2026-02", f"m_{unit}": "1"},
                         headers=HX)
    body = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert f'id="amount-{unit}" hx-swap-oob="true" data-computed-for="m_{unit}" data-computed-from="1">100,00' in body
    assert "montant négatif" in body and 'value="send"' not in body
    with pytest.raises(OperationError, match="montant négatif"):
        _save(app, w.st1, second, month="2026-02", **{f"m_{unit}": "1"})
