"""The assistant's panel and the live chat through the Flask test client, on the demo: questions stored with their
answers, the hand-over to an agent (or to a ticket outside the agents' hours), the operators' console, the event
streams, the questions the assistant failed — and every bad input answered clearly with nothing changed."""
from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select

from chorus_chain import demo
from chorus_chain.access import system_access
from chorus_chain.extensions import db
from chorus_chain.models import Account, Piece, Structure, Ticket
from chorus_chain.models.chat import Conversation, ConversationMessage
from tests import factories

SIRET = {c.key: c.siret for c in demo.COMPANIES}
EMAIL = {c.key: c.email for c in demo.COMPANIES}
SCRIPT = '<script>alert("x")</script><b>gras</b>'


@pytest.fixture
def seeded(app, db):
    with app.app_context():
        demo.seed()
        db.session.commit()
    app.config.update(CHAT_HOURS="toujours", CHAT_STREAM_SECONDS=0, CHAT_POLL_SECONDS=0)
    yield
    app.config.update(CHAT_HOURS="lun-ven 09:00-18:00", CHAT_STREAM_SECONDS=25, CHAT_POLL_SECONDS=1)


def _client(app, email):
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.email == email))
        db.session.expunge(account)
    client = app.test_client()
    factories.login(client, account, password=demo.DEMO_PASSWORD)
    return client


@pytest.fixture
def user(app, seeded):
    return _client(app, EMAIL["st_platrerie"])


def _operator(app, first_name="Agnès"):
    account = factories.account(app, first_name=first_name, is_operator=True)
    client = app.test_client()
    factories.login(client, account)
    return client, account


def _counts(app):
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Conversation)),
                db.session.scalar(select(func.count()).select_from(ConversationMessage)),
                db.session.scalar(select(func.count()).select_from(Ticket)))


def _conversation(app, key="st_platrerie") -> Conversation:
    with app.app_context():
        structure_id = db.session.scalar(select(Structure.id).where(Structure.siret == SIRET[key]))
        row = db.session.scalars(select(Conversation).where(Conversation.structure_id == structure_id)
                                 .order_by(Conversation.id.desc())).first()
        db.session.expunge(row)
        return row


def _ask(client, question, key="st_platrerie", page=None, **extra):
    return client.post(f"/s/{SIRET[key]}/assistant/questions",
                       data={"question": question, "page": page or f"/s/{SIRET[key]}/", **extra})


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_every_page_of_a_structure_carries_the_panel_and_the_panel_speaks_french(app, user):
    page = user.get(f"/s/{SIRET['st_platrerie']}/pieces/")
    assert 'data-testid="assistant"' in page.get_data(as_text=True)
    panel = user.get(f"/s/{SIRET['st_platrerie']}/assistant")
    assert panel.status_code == 200
    assert "Discuter avec un agent" in _text(panel)


def test_a_question_is_answered_and_the_conversation_is_kept(app, user):
    response = _ask(user, "ou en est ma facture pl 2026 002 ?")
    assert response.status_code == 200
    body = _text(response)
    assert "PL-2026-002" in body and "Durand Bâtiment SAS" in body
    assert f"/s/{SIRET['st_platrerie']}/pieces/" in body  # the link to the piece
    # The panel, loaded again on another page, shows the same conversation.
    again = _text(user.get(f"/s/{SIRET['st_platrerie']}/assistant"))
    assert "ou en est ma facture pl 2026 002 ?" in again and "PL-2026-002" in again


def test_markup_in_a_question_is_shown_as_text_on_both_sides(app, user):
    response = _ask(user, SCRIPT)
    raw = response.get_data(as_text=True)
    assert "<script>alert" not in raw and "&lt;script&gt;" in raw
    assert user.post(f"/s/{SIRET['st_platrerie']}/assistant/agent", data={"page": "/"}).status_code == 200
    operator, _ = _operator(app)
    console = operator.get(f"/operateur/conversations/{_conversation(app).id}").get_data(as_text=True)
    assert "<script>alert" not in console and "&lt;script&gt;alert" in console and "&lt;b&gt;gras" in console


@pytest.mark.parametrize("question, said", [
    ("", "vide"), ("   \n ", "vide"), ("x" * 10_000, "10000 caractères"),
])
def test_an_empty_or_huge_question_is_refused_and_nothing_is_stored(app, user, question, said):
    before = _counts(app)
    response = _ask(user, question)
    assert response.status_code == 422
    assert said in _text(response).replace("\u202f", "")
    assert _counts(app) == before


def test_hand_over_puts_the_conversation_in_the_console_with_the_page_structure_and_piece(app, user):
    with app.app_context(), system_access("test: the demo piece's id"):
        piece_id = db.session.scalar(select(Piece.id).where(Piece.number == "PL-2026-002"))
    page = f"/s/{SIRET['st_platrerie']}/pieces/{piece_id}"
    _ask(user, "je ne comprends pas cette facture", page=page)
    response = user.post(f"/s/{SIRET['st_platrerie']}/assistant/agent", data={"page": page})
    assert response.status_code == 200 and "Un agent va vous répondre" in _text(response)
    conversation = _conversation(app)
    assert conversation.status == "waiting" and conversation.piece_number == "PL-2026-002"
    operator, _ = _operator(app)
    queue = _text(operator.get("/operateur/conversations"))
    assert "Plâtrerie Leroy" in queue and page in queue and "PL-2026-002" in queue
    console = _text(operator.get(f"/operateur/conversations/{conversation.id}"))
    assert "je ne comprends pas cette facture" in console  # the assistant's transcript


def test_a_piece_the_structure_does_not_see_is_not_attached_to_the_hand_over(app, seeded):
    client = _client(app, EMAIL["st_nettoyage"])
    with app.app_context(), system_access("test: the demo piece's id"):
        piece_id = db.session.scalar(select(Piece.id).where(Piece.number == "DB-2026-001"))
    page = f"/s/{SIRET['st_nettoyage']}/pieces/{piece_id}"
    client.post(f"/s/{SIRET['st_nettoyage']}/assistant/agent", data={"page": page})
    conversation = _conversation(app, "st_nettoyage")
    assert conversation.piece_id is None and conversation.piece_number is None


def test_outside_the_agents_hours_the_conversation_becomes_a_ticket_with_its_transcript(app, user):
    app.config["CHAT_HOURS"] = "jamais"
    _ask(user, "pourquoi la PL-2026-001 n'est pas payee ?")
    response = user.post(f"/s/{SIRET['st_platrerie']}/assistant/agent", data={"page": "/"})
    assert response.status_code == 200 and "demande d'aide n°" in _text(response)
    conversation = _conversation(app)
    assert conversation.status == "ticket"
    with app.app_context():
        ticket = db.session.get(Ticket, conversation.ticket_id)
        first = ticket.messages[0].body
    assert "pourquoi la PL-2026-001 n'est pas payee ?" in first and "Assistant :" in first
    # No more messages in it: the ticket takes over.
    before = _counts(app)
    refused = _ask(user, "encore une chose", conversation_id=conversation.id)
    assert refused.status_code == 422 and "demande d'aide" in _text(refused)
    assert _counts(app) == before


def test_operator_answers_and_both_streams_carry_the_messages(app, user):
    _ask(user, "bonjour")
    user.post(f"/s/{SIRET['st_platrerie']}/assistant/agent", data={"page": "/"})
    conversation = _conversation(app)
    operator, _ = _operator(app)
    assert operator.post(f"/operateur/conversations/{conversation.id}/prendre").status_code == 303
    assert operator.post(f"/operateur/conversations/{conversation.id}/repondre",
                         data={"body": "Bonjour, je regarde votre dossier."}).status_code == 303
    # The user writes to the agent: no assistant answer any more.
    assert _ask(user, "merci !", conversation_id=conversation.id).status_code == 200
    stream = user.get(f"/s/{SIRET['st_platrerie']}/assistant/conversations/{conversation.id}/flux")
    assert stream.mimetype == "text/event-stream"
    events = stream.get_data(as_text=True)
    assert "Bonjour, je regarde votre dossier." in events and "a rejoint la conversation" in events
    with app.app_context():
        last = db.session.scalars(select(ConversationMessage).where(
            ConversationMessage.conversation_id == conversation.id).order_by(ConversationMessage.id.desc())).first()
        assert last.author == "user" and last.body == "merci !"
    # Resuming after the last id seen sends nothing already sent.
    again = user.get(f"/s/{SIRET['st_platrerie']}/assistant/conversations/{conversation.id}/flux",
                     headers={"Last-Event-ID": str(last.id)})
    assert "event: message" not in again.get_data(as_text=True)
    console_events = operator.get(f"/operateur/conversations/{conversation.id}/flux").get_data(as_text=True)
    assert "merci !" in console_events


def test_an_operator_cannot_answer_a_conversation_another_took(app, user):
    _ask(user, "j'ai besoin d'aide")
    user.post(f"/s/{SIRET['st_platrerie']}/assistant/agent", data={"page": "/"})
    conversation = _conversation(app)
    first, _ = _operator(app, "Agnès")
    second, _ = _operator(app, "Bruno")
    first.post(f"/operateur/conversations/{conversation.id}/prendre")
    before = _counts(app)
    response = second.post(f"/operateur/conversations/{conversation.id}/repondre", data={"body": "Je prends !"})
    assert response.status_code == 422 and "déjà prise par Agnès" in _text(response)
    assert second.post(f"/operateur/conversations/{conversation.id}/prendre").status_code == 422
    assert second.post(f"/operateur/conversations/{conversation.id}/terminer").status_code == 422
    assert _counts(app) == before
    assert _conversation(app).status == "active"


def test_a_message_to_a_closed_conversation_is_refused_and_changes_nothing(app, user):
    _ask(user, "bonjour")
    user.post(f"/s/{SIRET['st_platrerie']}/assistant/agent", data={"page": "/"})
    conversation = _conversation(app)
    operator, _ = _operator(app)
    operator.post(f"/operateur/conversations/{conversation.id}/prendre")
    assert operator.post(f"/operateur/conversations/{conversation.id}/terminer").status_code == 303
    before = _counts(app)
    refused = _ask(user, "vous etes la ?", conversation_id=conversation.id)
    assert refused.status_code == 422 and "terminée" in _text(refused)
    late = operator.post(f"/operateur/conversations/{conversation.id}/repondre", data={"body": "Encore moi"})
    assert late.status_code == 422
    assert _counts(app) == before


def test_another_members_conversation_cannot_be_written_to(app, seeded):
    owner = _client(app, EMAIL["mandataire"])
    _ask(owner, "bonjour", key="mandataire")
    conversation = _conversation(app, "mandataire")
    colleague = _client(app, demo.EXTRA_MEMBERS[0][1])
    before = _counts(app)
    response = _ask(colleague, "je lis ?", key="mandataire", conversation_id=conversation.id)
    assert response.status_code == 422 and "n'existe pas" in _text(response)
    assert _counts(app) == before


def test_the_questions_the_assistant_failed_are_listed_for_the_operators(app, user):
    _ask(user, "quelle est la recette de la tarte tatin")
    _ask(user, "ou en est ma facture PL-2026-002")
    operator, _ = _operator(app)
    page = _text(operator.get("/operateur/questions-sans-reponse"))
    assert "quelle est la recette de la tarte tatin" in page
    assert "ou en est ma facture PL-2026-002" not in page
    with app.app_context():
        message_id = db.session.scalar(select(ConversationMessage.id).where(ConversationMessage.failed.is_(True)))
    operator.post(f"/operateur/questions-sans-reponse/{message_id}/traitee")
    assert "tarte tatin" not in _text(operator.get("/operateur/questions-sans-reponse"))


def test_a_new_conversation_starts_empty(app, user):
    _ask(user, "bonjour")
    response = user.post(f"/s/{SIRET['st_platrerie']}/assistant/nouvelle", data={"page": "/"})
    assert response.status_code == 200 and "bonjour</p>" not in response.get_data(as_text=True)
