"""A try's claim outlasts everything the try may still do (jobs.queue.lease_seconds): for an e-mail, the SMTP dialogue
and then the durable wait to record the send across a database outage. Otherwise another try takes the row over
mid-wait and sends the e-mail again (the fault test `test_database_lost_right_after_the_smtp_server_accepted` shows
it end to end on real services)."""
from __future__ import annotations

from flask import Flask

from chorus_chain.jobs.queue import SMTP_ROUND_TRIPS, lease_seconds, rq_timeout


def _config(**values) -> Flask:
    app = Flask(__name__)
    app.config.update(values)
    return app


def test_a_mail_try_stays_alive_and_keeps_its_claim_for_its_whole_worst_case():
    for smtp_timeout, db_retry, lease in [(15, 120, None), (2, 20, 8), (2, 60, 10), (30, 300, 5)]:
        with _config(SMTP_TIMEOUT=smtp_timeout, JOB_DB_RETRY_SECONDS=db_retry, OUTBOX_LEASE_SECONDS=lease).app_context():
            worst_try = SMTP_ROUND_TRIPS * smtp_timeout + db_retry
            assert worst_try < rq_timeout("send_mail") < lease_seconds("send_mail")


def test_jobs_with_no_outside_effect_keep_their_short_lease():
    # a document rendered twice costs a render, not a duplicate a user sees: a killed horse is taken over quickly
    with _config(SMTP_TIMEOUT=15, JOB_DB_RETRY_SECONDS=120, OUTBOX_LEASE_SECONDS=8).app_context():
        assert lease_seconds("render_document") == 8 and rq_timeout("render_document") == 6
    with _config(SMTP_TIMEOUT=15, JOB_DB_RETRY_SECONDS=120).app_context():
        assert lease_seconds("render_document") == 240


def test_a_webhook_try_keeps_its_claim_for_its_post_and_the_durable_record():
    # a delivery the receiver took must be recorded before another try may POST it again
    from chorus_chain.jobs.queue import HTTP_ROUND_TRIPS

    for http_timeout, db_retry, lease in [(10, 120, None), (2, 20, 8), (30, 300, 5)]:
        with _config(WEBHOOK_TIMEOUT_SECONDS=http_timeout, JOB_DB_RETRY_SECONDS=db_retry,
                     OUTBOX_LEASE_SECONDS=lease).app_context():
            worst_try = HTTP_ROUND_TRIPS * http_timeout + db_retry
            assert worst_try < rq_timeout("deliver_webhook") < lease_seconds("deliver_webhook")
