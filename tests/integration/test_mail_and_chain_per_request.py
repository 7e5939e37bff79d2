"""Two costs taken out of every deposit (issue 17, bench/api_deposits.py): the notification e-mails are rendered
by their job, not by the request that queues them; the chain's party rows (and the marché) are read once per request
and version of the marché, not twice per piece — and never served stale after party rows change or a savepoint is
rolled back."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.jobs.outbox import run
from chorus_chain.models import Account, Marche, MarcheParty, MailMessage, OutboxJob
from chorus_chain.operations import chain as chain_ops
from chorus_chain.operations.mail import freeze, queue_mail, thaw
from tests.integration import pieces_world as pw
from tests.integration.db_counts import statements as statements_of


@pytest.fixture
def w(app, db):
    return pw.world(app)


def test_a_deposit_queues_its_emails_unrendered_and_the_job_renders_them(app, w):
    piece_id = pw.deposit(app, w, w.mandataire, "A4", "MAIL-JOB-1")
    with pw.system(app):
        mails = db.session.scalars(select(MailMessage).where(MailMessage.account_id == w.moe.account_id)).all()
        (mail,) = [m for m in mails if m.template == "piece_to_act"]
        assert mail.body is None and mail.subject is None  # nothing rendered in the request
        assert mail.context["structure"] == {"name": "Atelier Test", "siret": w.moe.siret}
        mail_id = mail.id
        job_id = next(j.id for j in db.session.scalars(select(OutboxJob).where(OutboxJob.job == "send_mail"))
                      if j.payload["mail_id"] == mail_id)
    with app.app_context():
        assert run(job_id) == "done"
    with pw.system(app):
        mail = db.session.get(MailMessage, mail_id)
        assert mail.sent_at is not None and mail.subject.startswith("À traiter : pièce n° MAIL-JOB-1")
        assert f"http://localhost/s/{w.moe.siret}/pieces/{piece_id}" in mail.body
        assert f"membre de Atelier Test (SIRET {w.moe.siret})" in mail.body


def test_a_context_holding_a_row_is_rendered_at_once(app, w):
    with pw.system(app):
        account = db.session.get(Account, w.moe.account_id)
        mail = queue_mail(account.email, "password_changed", account_id=account.id, account=account)
        assert mail.template is None and mail.body and account.first_name in mail.body
        db.session.rollback()


def test_freeze_and_thaw_keep_the_values_a_template_reads():
    context = {"text": "Pièce", "n": 3, "amount": Decimal("1200.50"), "on": date(2026, 2, 27),
               "at": datetime(2026, 2, 27, 9, 30, tzinfo=timezone.utc), "lines": ["a", "b"],
               "structure": {"name": "Atelier", "siret": "1"}, "none": None}
    assert thaw(freeze(context)) == context
    with pytest.raises(Exception):
        freeze({"row": object()})


def test_the_chain_rows_are_read_once_per_request_and_never_stale(app, w):
    with statements_of(app) as statements, pw.system(app):
        marche = db.session.get(Marche, w.marche_id)
        first = chain_ops.rows_of(marche)
        reads = len([s for s in statements if "FROM marche_party" in s])
        assert [r.id for r in chain_ops.rows_of(marche)] == [r.id for r in first]
        assert len([s for s in statements if "FROM marche_party" in s]) == reads  # served from the request
        # A party row added then rolled back with its savepoint: never served afterwards.
        savepoint = db.session.begin_nested()
        db.session.add(MarcheParty(marche_id=marche.id, siret="80000000000000", name="Éphémère",
                                   role="sous_traitant", parent_id=first[0].id, status="invited"))
        db.session.flush()
        assert "Éphémère" in [r.name for r in chain_ops.rows_of(marche)]  # flushed: read again
        savepoint.rollback()
        assert "Éphémère" not in [r.name for r in chain_ops.rows_of(marche)]
        # A pending (unflushed) row is seen too: the cache is bypassed while party rows wait.
        pending = MarcheParty(marche_id=marche.id, siret="80000000000001", name="En attente",
                              role="sous_traitant", parent_id=first[0].id, status="invited")
        db.session.add(pending)
        assert "En attente" in [r.name for r in chain_ops.rows_of(marche)]
        db.session.rollback()
