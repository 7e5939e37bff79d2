"""The boxes (à traiter, émises, reçues): HTMX fragments versus full pages, filters, pagination by the database, a
fixed number of queries whatever the number of pieces, and the bell and notifications."""
from __future__ import annotations

import re

from sqlalchemy import event, select

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.models import Account, Notification, NotificationPreference
from chorus_chain.models.notifications import NOTIFICATION_KINDS
# `app` and `world` are fixtures: this module runs on a database holding the demo.
from tests.integration.test_pieces_pages import (  # noqa: F401
    app,
    HX,
    SIRET,
    act,
    client_for,
    count_rows,
    make_piece,
    text,
    world,
)


def numbers(page: str) -> list[str]:
    return re.findall(r'<a class="mono" href="/s/\d+/pieces/\d+">([^<]+)</a>', page)


def test_htmx_gets_the_table_and_everyone_else_the_page(app, world):
    leroy, base = client_for(app, "st_platrerie")
    full = leroy.get(f"{base}/emises")
    assert full.status_code == 200 and "<html" in text(full) and 'id="pieces-list"' in text(full)
    assert "HX-Request" in full.headers.get_all("Vary") or "HX-Request" in full.headers["Vary"]
    fragment = leroy.get(f"{base}/emises?number=PL", headers=HX)
    body = text(fragment)
    assert "<html" not in body and body.lstrip().startswith('<div id="pieces-list"')
    assert "HX-Request" in fragment.headers["Vary"]
    # A boosted link and a history restore want the whole page.
    assert "<html" in text(leroy.get(f"{base}/emises", headers={**HX, "HX-Boosted": "true"}))
    assert "<html" in text(leroy.get(f"{base}/emises", headers={**HX, "HX-History-Restore-Request": "true"}))


def test_filters_by_number_status_cadre_and_marche(app, world):
    make_piece(app, world, "T-200")
    make_piece(app, world, "T-201", send=False)
    leroy, base = client_for(app, "st_platrerie")
    every = numbers(text(leroy.get(f"{base}/emises")))
    assert {"T-200", "T-201", "PL-PDM-02", "PL-2026-002"} <= set(every)
    assert numbers(text(leroy.get(f"{base}/emises?number=t-20", headers=HX))) == ["T-201", "T-200"]
    assert numbers(text(leroy.get(f"{base}/emises?status=BROUILLON", headers=HX))) == ["T-201"]
    assert set(numbers(text(leroy.get(f"{base}/emises?cadre=A10&marche_id={world['marche_id']}")))) == set(every)
    assert numbers(text(leroy.get(f"{base}/emises?cadre=A4"))) == []
    received = numbers(text(leroy.get(f"{base}/recues?cadre=prive")))
    assert received == ["PP-2026-001"]  # the private invoice of its rang-2 sous-traitant
    page = text(leroy.get(f"{base}/emises?number=zzz"))
    assert "Aucune pièce ne correspond à ces filtres." in page and 'value="zzz"' in page


def test_pages_are_cut_by_the_database(app, world, monkeypatch):
    from chorus_chain.blueprints.pieces import views

    monkeypatch.setattr(views, "PER_PAGE", 2)
    for n in range(3):
        make_piece(app, world, f"T-21{n}", send=False)
    leroy, base = client_for(app, "st_platrerie")
    first = text(leroy.get(f"{base}/emises?status=BROUILLON", headers=HX))
    assert numbers(first) == ["T-212", "T-211"] and "page 1 sur 2" in first
    link = re.search(r'href="([^"]+page=2[^"]*)"', first).group(1).replace("&amp;", "&")
    assert "status=BROUILLON" in link and 'hx-push-url="true"' in first
    assert numbers(text(leroy.get(link, headers=HX))) == ["T-210"]


def test_a_traiter_lists_what_waits_on_the_structure_most_urgent_first(app, world):
    late = make_piece(app, world, "T-220")
    make_piece(app, world, "T-221")
    act(app, "mandataire", late, "validate")
    durand, base = client_for(app, "mandataire")
    page = text(durand.get(f"{base}/"))
    waiting = numbers(page)
    assert "T-221" in waiting and "T-220" not in waiting  # validated: it waits on the MOE now
    assert "PL-2026-002" in waiting and waiting.index("PL-2026-002") < waiting.index("T-221")  # 2 days before 14
    assert "validation tacite dans 2 jours" in page or "validation tacite dans un jour" in page
    moe, moe_base = client_for(app, "moe")
    assert "T-220" in numbers(text(moe.get(f"{moe_base}/")))


def test_a_traiter_orders_by_urgency_across_pages(app, world, monkeypatch):
    from chorus_chain.blueprints.pieces import views

    make_piece(app, world, "T-230")  # deposited now: its 15-day clock is the furthest
    monkeypatch.setattr(views, "PER_PAGE", 1)
    durand, base = client_for(app, "mandataire")
    # The database orders by the earliest open deadline, so page 1 holds the most urgent piece of all pages.
    assert numbers(text(durand.get(f"{base}/", headers=HX))) == ["PL-2026-002"]


def _statements(app, client, url: str) -> list[str]:
    with app.app_context():
        engine = db.engine
    statements = []

    def count(conn, cursor, statement, *args):
        if "set_config('chorus." not in statement:  # the tenant's settings: one per transaction
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return statements


def test_the_boxes_cost_the_same_queries_whatever_the_number_of_pieces(app, world):
    leroy, base = client_for(app, "st_platrerie")
    moe, moe_base = client_for(app, "moe")
    urls = [(leroy, f"{base}/emises"), (leroy, f"{base}/recues"), (moe, f"{moe_base}/"), (moe, f"{moe_base}/recues")]
    for client, url in urls:
        client.get(url)  # warm-up
    before = [len(_statements(app, client, url)) for client, url in urls]
    for n in range(5):  # small amounts: five more pieces must stay under Leroy's DC4 ceiling (96 000 €)
        piece_id = make_piece(app, world, f"T-23{n}", montant_ht="1 000,00", montant_ttc="1 000,00")
        act(app, "mandataire", piece_id, "validate")  # now at the MOE, with its clock
    after = [len(_statements(app, client, url)) for client, url in urls]
    assert after == before, (before, after)
    assert max(after) <= 12, _statements(app, leroy, f"{base}/emises")


def test_the_piece_page_costs_the_same_queries_however_long_its_history(app, world):
    short = make_piece(app, world, "T-240")
    long = make_piece(app, world, "T-241")
    for key, action in (("mandataire", "validate"), ("moe", "take"), ("moe", "issue_etat_acompte"),
                        ("moa", "moa_take"), ("moa", "moa_validate")):
        act(app, key, long, action)
    leroy, base = client_for(app, "st_platrerie")
    leroy.get(f"{base}/{short}")
    assert len(_statements(app, leroy, f"{base}/{short}")) == len(_statements(app, leroy, f"{base}/{long}"))


# --- notifications -------------------------------------------------------------------------------------------------

def test_the_bell_counts_and_the_notifications_open_their_piece(app, world):
    durand, base = client_for(app, "mandataire")
    notifications = f"/s/{SIRET['mandataire']}/notifications"
    before = int(re.search(r'<span class="count">(\d+)', text(durand.get(f"{base}/"))).group(1))
    piece_id = make_piece(app, world, "T-250")
    page = text(durand.get(f"{base}/"))
    assert re.search(r'<span class="count">(\d+)', page).group(1) == str(before + 1)
    assert 'hx-trigger="every 60s"' in page and f'href="{notifications}/"' in page  # a plain link without JS
    bell = durand.get(f"{notifications}/cloche", headers=HX)
    assert text(bell).lstrip().startswith('<span id="bell"') and f">{before + 1}<" in text(bell)
    assert durand.get(f"{notifications}/cloche").status_code == 302  # without HTMX: the list
    listing = text(durand.get(f"{notifications}/"))
    assert "T-250" in listing and "À valider par le donneur d'ordre" in listing
    with app.app_context(), access.system_access("test: find the notification"):
        ident = db.session.scalar(select(Notification.id).join(Account, Account.id == Notification.account_id)
                                  .where(Notification.text.contains("T-250"),
                                         Account.email == "durand@demo.chorus-chain.fr"))
    opened = durand.post(f"{notifications}/ouvrir", data={"notification_id": ident})
    assert opened.status_code == 303 and opened.headers["Location"].endswith(f"{base}/{piece_id}")
    assert f">{before}<" in text(durand.get(f"{notifications}/cloche", headers=HX))
    assert durand.post(f"{notifications}/lues").status_code == 303
    assert '<span class="count">' not in text(durand.get(f"{notifications}/cloche", headers=HX))
    # Someone else's notification cannot be opened.
    leroy, _ = client_for(app, "st_platrerie")
    assert leroy.post(f"/s/{SIRET['st_platrerie']}/notifications/ouvrir",
                      data={"notification_id": ident}).status_code == 404


def test_a_digest_of_the_sweep_lists_its_pieces_each_with_its_link(app, world):
    """The sweep's batch tells a member of several pieces in one notification per kind (`operations.bell_digest`):
    one line under the bell, counted once; the list names each piece with its own line and link."""
    from datetime import datetime, timezone

    from chorus_chain.operations.bell_digest import BellDigest

    durand, base = client_for(app, "mandataire")
    notifications = f"/s/{SIRET['mandataire']}/notifications"
    assert durand.post(f"{notifications}/lues").status_code == 303  # nothing unread before
    pieces = [make_piece(app, world, number) for number in ("T-270", "T-271")]
    assert durand.post(f"{notifications}/lues").status_code == 303  # their « à traiter », read
    at = datetime(2026, 12, 6, 23, 0, tzinfo=timezone.utc)
    with app.app_context(), access.system_access("test: a batch's digest"):
        account = db.session.scalar(select(Account).where(Account.email == "durand@demo.chorus-chain.fr"))
        structure_id = db.session.scalar(select(Notification.structure_id).where(
            Notification.account_id == account.id, Notification.piece_id == pieces[0]))
        digest = BellDigest(at)
        for piece_id, number in zip(pieces, ("T-270", "T-271")):
            digest.tell((account.id,), structure_id, "piece_to_act",
                        {"piece_id": piece_id, "text": f"Pièce n° {number} : validée tacitement.",
                         "url": f"{base}/{piece_id}", "created_at": at})
        assert digest.write() == 1
        db.session.commit()
    assert ">1<" in text(durand.get(f"{notifications}/cloche", headers=HX))  # one line under the bell
    listing = text(durand.get(f"{notifications}/"))
    assert "2 pièces attendent une action de votre structure" in listing
    for piece_id, number in zip(pieces, ("T-270", "T-271")):
        assert f'<a href="{base}/{piece_id}">Pièce n° {number} : validée tacitement.</a>' in listing
    assert durand.post(f"{notifications}/lues").status_code == 303
    assert '<span class="count">' not in text(durand.get(f"{notifications}/cloche", headers=HX))


def test_notification_preferences(app, world):
    durand, _ = client_for(app, "mandataire")
    url = f"/s/{SIRET['mandataire']}/notifications/preferences"
    page = text(durand.get(url))
    # every kind on by default, in the application and by e-mail
    assert "Une pièce attend une action de votre structure" in page
    assert page.count("checked") == 2 * len(NOTIFICATION_KINDS) == 10
    response = durand.post(url, data={"app-piece_to_act": "on", "app-piece_status": "on", "email-piece_status": "on"})
    assert response.status_code == 303
    # one row per kind is written; all but piece_status have the e-mail off
    assert count_rows(app, NotificationPreference, NotificationPreference.by_email.is_(False)) == \
        len(NOTIFICATION_KINDS) - 1 == 4
    page = text(durand.get(url))
    assert page.count("checked") == 3  # piece_to_act in-app, piece_status both ways; the other kinds off
