"""The assistant's panel and the live chat through the Flask test client: questions stored with their
answers, the hand-over to an agent (or to a ticket outside the agents' hours), the operators' console, the event
streams, the questions the assistant failed — and every bad input answered clearly with nothing changed."""
from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select

from chorus_chain.extensions import db
from chorus_chain.models import Ticket
from chorus_chain.models.chat import Conversation, ConversationMessage
from tests import factories

SCRIPT = '<script>alert("x")</script><b>gras</b>'
ROUTE = [{"party_id": None, "structure_id": None, "siret": "", "role": role, "step": step}
         for role, step in (("moe", "moe"), ("moa", "moa"), ("paying_office", "paiement"))]


@pytest.fixture
def world(app, db):
    """A company with a marché and a piece PL-2026-002 at the maître d'œuvre, a colleague, and another company.
    Small on purpose (no demo seeding): the assistant's answers over the demo are tests/integration/
    test_assistant_eval.py's and test_assistant_tenancy.py's."""
    owner = factories.account(app, first_name="Nathalie", last_name="Leroy")
    company = factories.structure(app, owner, name="Plâtrerie Leroy")
    colleague = factories.account(app)
    factories.member(app, company, colleague)
    marche_id, party_id = _marche(app, company)
    piece_id, _ = factories.piece(app, company, marche_id, party_id, number="PL-2026-002", status="A_ASSOCIER_MOE",
                                  route=ROUTE)
    other_owner = factories.account(app)
    other = factories.structure(app, other_owner, name="Nettoyage Moreau")
    app.config.update(CHAT_HOURS="toujours", CHAT_STREAM_SECONDS=0, CHAT_POLL_SECONDS=0)
    yield {"owner": owner, "company": company, "colleague": colleague, "piece_id": piece_id,
           "other_owner": other_owner, "other": other}
    app.config.update(CHAT_HOURS="lun-ven 09:00-18:00", CHAT_STREAM_SECONDS=25, CHAT_POLL_SECONDS=1)


def _marche(app, structure):
    from decimal import Decimal

    from chorus_chain.models import Marche, MarcheParty

    with app.app_context():
        marche = Marche(reference=f"CHAT-{structure.siret}", objet="Marché de test", kind="travaux",
                        montant_ht=Decimal("100000.00"), tva_rate=Decimal("20.00"), dgp_days=30,
                        created_by_id=structure.id)
        db.session.add(marche)
        db.session.flush()
        party = MarcheParty(marche_id=marche.id, structure_id=structure.id, siret=structure.siret,
                            name=structure.name, role="titulaire", status="confirmed")
        db.session.add(party)
        db.session.commit()
        return marche.id, party.id


def _client(app, account):
    client = app.test_client()
    factories.login(client, account)
    return client


@pytest.fixture
def user(app, world):
    return _client(app, world["owner"])


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


def _conversation(app, structure) -> Conversation:
    with app.app_context():
        row = db.session.scalars(select(Conversation).where(Conversation.structure_id == structure.id)
                                 .order_by(Conversation.id.desc())).first()
        db.session.expunge(row)
        return row


def _ask(client, question, siret, page=None, **extra):
    return client.post(f"/s/{siret}/assistant/questions",
                       data={"question": question, "page": page or f"/s/{siret}/", **extra})


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_every_page_of_a_structure_carries_the_panel_and_the_panel_speaks_french(app, world, user):
    siret = world["company"].siret
    page = user.get(f"/s/{siret}/pieces/")
    assert 'data-testid="assistant"' in page.get_data(as_text=True)
    panel = user.get(f"/s/{siret}/assistant")
    assert panel.status_code == 200
    assert "Discuter avec un agent" in _text(panel)


def test_a_question_is_answered_and_the_conversation_is_kept(app, world, user):
    siret = world["company"].siret
    response = _ask(user, "ou en est ma facture pl 2026 2 ?", siret)
    assert response.status_code == 200
    body = _text(response)
    assert "PL-2026-002" in body and "Chez le maître d'œuvre" in body
    assert f"/s/{siret}/pieces/{world['piece_id']}" in body  # the link to the piece
    # The panel, loaded again on another page, shows the same conversation.
    again = _text(user.get(f"/s/{siret}/assistant"))
    assert "ou en est ma facture pl 2026 2 ?" in again and "PL-2026-002" in again


def test_markup_in_a_question_is_shown_as_text_on_both_sides(app, world, user):
    siret = world["company"].siret
    raw = _ask(user, SCRIPT, siret).get_data(as_text=True)
    assert "<script>alert" not in raw and "&lt;script&gt;" in raw
    assert user.post(f"/s/{siret}/assistant/agent", data={"page": "/"}).status_code == 200
    operator, _ = _operator(app)
    console = operator.get(f"/operateur/conversations/{_conversation(app, world['company']).id}")
    raw = console.get_data(as_text=True)
    assert "<script>alert" not in raw and "&lt;script&gt;alert" in raw and "&lt;b&gt;gras" in raw


@pytest.mark.parametrize("question, said", [
    ("", "vide"), ("   \n ", "vide"), ("x" * 10_000, "10000 caractères"),
])
def test_an_empty_or_huge_question_is_refused_and_nothing_is_stored(app, world, user, question, said):
    before = _counts(app)
    response = _ask(user, question, world["company"].siret)
    assert response.status_code == 422
    assert said in _text(response).replace("\u202f", "")
    assert _counts(app) == before


def test_hand_over_puts_the_conversation_in_the_console_with_the_page_structure_and_piece(app, world, user):
    siret = world["company"].siret
    page = f"/s/{siret}/pieces/{world['piece_id']}"
    _ask(user, "je ne comprends pas cette facture", siret, page=page)
    response = user.post(f"/s/{siret}/assistant/agent", data={"page": page})
    assert response.status_code == 200 and "Un agent va vous répondre" in _text(response)
    conversation = _conversation(app, world["company"])
    assert conversation.status == "waiting" and conversation.piece_number == "PL-2026-002"
    operator, _ = _operator(app)
    queue = _text(operator.get("/operateur/conversations"))
    assert "Plâtrerie Leroy" in queue and "PL-2026-002" in queue
    # The page by its kind, in French (its address only on hover): the operator reads no tenant's pieces.
    assert f'<span title="{page}">Page d\'une pièce</span>' in queue
    console = _text(operator.get(f"/operateur/conversations/{conversation.id}"))
    assert "je ne comprends pas cette facture" in console  # the assistant's transcript
    assert "<dt>Page</dt><dd>Page d'une pièce <details><summary>Adresse exacte</summary>" in console


def test_a_piece_the_structure_does_not_see_is_not_attached_to_the_hand_over(app, world):
    client = _client(app, world["other_owner"])
    siret = world["other"].siret
    client.post(f"/s/{siret}/assistant/agent", data={"page": f"/s/{siret}/pieces/{world['piece_id']}"})
    conversation = _conversation(app, world["other"])
    assert conversation.piece_id is None and conversation.piece_number is None


def test_outside_the_agents_hours_the_conversation_becomes_a_ticket_with_its_transcript(app, world, user):
    app.config["CHAT_HOURS"] = "jamais"
    siret = world["company"].siret
    _ask(user, "pourquoi la PL-2026-002 n'est pas payee ?", siret)
    response = user.post(f"/s/{siret}/assistant/agent", data={"page": "/"})
    assert response.status_code == 200 and "demande d'aide n°" in _text(response)
    conversation = _conversation(app, world["company"])
    assert conversation.status == "ticket"
    with app.app_context():
        ticket = db.session.get(Ticket, conversation.ticket_id)
        first = ticket.messages[0].body
    assert "pourquoi la PL-2026-002 n'est pas payee ?" in first and "Assistant :" in first
    # No more messages in it: the ticket takes over.
    before = _counts(app)
    refused = _ask(user, "encore une chose", siret, conversation_id=conversation.id)
    assert refused.status_code == 422 and "demande d'aide" in _text(refused)
    assert _counts(app) == before


def test_operator_answers_and_both_streams_carry_the_messages(app, world, user):
    siret = world["company"].siret
    _ask(user, "bonjour", siret)
    user.post(f"/s/{siret}/assistant/agent", data={"page": "/"})
    conversation = _conversation(app, world["company"])
    operator, _ = _operator(app)
    assert operator.post(f"/operateur/conversations/{conversation.id}/prendre").status_code == 303
    assert operator.post(f"/operateur/conversations/{conversation.id}/repondre",
                         data={"body": "Bonjour, je regarde votre dossier."}).status_code == 303
    # The user writes to the agent: no assistant answer any more.
    assert _ask(user, "merci !", siret, conversation_id=conversation.id).status_code == 200
    stream = user.get(f"/s/{siret}/assistant/conversations/{conversation.id}/flux")
    assert stream.mimetype == "text/event-stream"
    events = stream.get_data(as_text=True)
    assert "Bonjour, je regarde votre dossier." in events and "a rejoint la conversation" in events
    with app.app_context():
        last = db.session.scalars(select(ConversationMessage).where(
            ConversationMessage.conversation_id == conversation.id).order_by(ConversationMessage.id.desc())).first()
        assert last.author == "user" and last.body == "merci !"
    # Resuming after the last id seen sends nothing already sent.
    again = user.get(f"/s/{siret}/assistant/conversations/{conversation.id}/flux",
                     headers={"Last-Event-ID": str(last.id)})
    assert "event: message" not in again.get_data(as_text=True)
    console_events = operator.get(f"/operateur/conversations/{conversation.id}/flux").get_data(as_text=True)
    assert "merci !" in console_events


def test_an_operator_cannot_answer_a_conversation_another_took(app, world, user):
    siret = world["company"].siret
    _ask(user, "j'ai besoin d'aide", siret)
    user.post(f"/s/{siret}/assistant/agent", data={"page": "/"})
    conversation = _conversation(app, world["company"])
    first, _ = _operator(app, "Agnès")
    second, _ = _operator(app, "Bruno")
    first.post(f"/operateur/conversations/{conversation.id}/prendre")
    before = _counts(app)
    response = second.post(f"/operateur/conversations/{conversation.id}/repondre", data={"body": "Je prends !"})
    assert response.status_code == 422 and "déjà prise par Agnès" in _text(response)
    assert second.post(f"/operateur/conversations/{conversation.id}/prendre").status_code == 422
    assert second.post(f"/operateur/conversations/{conversation.id}/terminer").status_code == 422
    assert _counts(app) == before
    assert _conversation(app, world["company"]).status == "active"


def test_a_message_to_a_closed_conversation_is_refused_and_changes_nothing(app, world, user):
    siret = world["company"].siret
    _ask(user, "bonjour", siret)
    user.post(f"/s/{siret}/assistant/agent", data={"page": "/"})
    conversation = _conversation(app, world["company"])
    operator, _ = _operator(app)
    operator.post(f"/operateur/conversations/{conversation.id}/prendre")
    assert operator.post(f"/operateur/conversations/{conversation.id}/terminer").status_code == 303
    before = _counts(app)
    refused = _ask(user, "vous etes la ?", siret, conversation_id=conversation.id)
    assert refused.status_code == 422 and "terminée" in _text(refused)
    late = operator.post(f"/operateur/conversations/{conversation.id}/repondre", data={"body": "Encore moi"})
    assert late.status_code == 422
    assert _counts(app) == before


def test_another_members_conversation_cannot_be_written_to(app, world, user):
    siret = world["company"].siret
    _ask(user, "bonjour", siret)
    conversation = _conversation(app, world["company"])
    colleague = _client(app, world["colleague"])
    before = _counts(app)
    response = _ask(colleague, "je lis ?", siret, conversation_id=conversation.id)
    assert response.status_code == 422 and "n'existe pas" in _text(response)
    assert _counts(app) == before


def test_the_questions_the_assistant_failed_are_listed_for_the_operators(app, world, user):
    siret = world["company"].siret
    _ask(user, "quelle est la recette de la tarte tatin", siret)
    _ask(user, "ou en est ma facture PL-2026-002", siret)
    operator, _ = _operator(app)
    page = _text(operator.get("/operateur/questions-sans-reponse"))
    assert "quelle est la recette de la tarte tatin" in page
    assert "ou en est ma facture PL-2026-002" not in page
    with app.app_context():
        message_id = db.session.scalar(select(ConversationMessage.id).where(ConversationMessage.failed.is_(True)))
    operator.post(f"/operateur/questions-sans-reponse/{message_id}/traitee")
    assert "tarte tatin" not in _text(operator.get("/operateur/questions-sans-reponse"))


def test_a_new_conversation_starts_empty(app, world, user):
    siret = world["company"].siret
    _ask(user, "bonjour", siret)
    response = user.post(f"/s/{siret}/assistant/nouvelle", data={"page": "/"})
    assert response.status_code == 200 and "bonjour</p>" not in response.get_data(as_text=True)
