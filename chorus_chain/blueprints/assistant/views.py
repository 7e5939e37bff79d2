"""« Assistant » — the panel on every page of a structure (tenant blueprint `assistant`), and the operators' console
of the live chat (`chat_operator`, /operateur/conversations, 403 for anyone but a platform operator).

The panel is one fragment (`assistant/_panel.html`) loaded by htmx when the user opens it, and kept across boosted
navigation (`hx-preserve`); its transcript is the database's, so a reload shows it again. A question is answered by
`assistant.answer` under the pages' access (the request's tenant, the member's rights). A form refused answers 422
with the reason, and nothing is stored.
"""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select

from chorus_chain import assistant
from chorus_chain.blueprints.assistant import stream as sse
from chorus_chain.blueprints.assistant.forms import ButtonForm, HandOverForm, QuestionForm, ReplyForm
from chorus_chain.blueprints.support.page_names import name_page
from chorus_chain.domain import agent_hours
from chorus_chain.extensions import db
from chorus_chain.models import Account, Structure
from chorus_chain.models.base import utcnow
from chorus_chain.models.chat import CONVERSATION_STATUS_LABELS, Conversation, ConversationMessage
from chorus_chain.operations import OperationError
from chorus_chain.operations import chat as ops
from chorus_chain.tenancy import has_right, tenant_blueprint

bp = tenant_blueprint("assistant", __name__, url_prefix="/assistant")
operator_bp = Blueprint("chat_operator", __name__, url_prefix="/operateur")

TRANSCRIPT_LIMIT = 200  # messages shown (a conversation longer than that shows its last ones)


def hours() -> agent_hours.Hours:
    return agent_hours.parse(current_app.config.get("CHAT_HOURS"))


def _messages(conversation: Conversation | None) -> list[ConversationMessage]:
    if conversation is None:
        return []
    rows = db.session.scalars(select(ConversationMessage).where(
        ConversationMessage.conversation_id == conversation.id)
        .order_by(ConversationMessage.id.desc()).limit(TRANSCRIPT_LIMIT)).all()
    return list(reversed(rows))


def _panel(conversation=None, form: QuestionForm | None = None, error: str | None = None, status: int = 200):
    if conversation is None:
        conversation = ops.current_for(g.structure, current_user)
    messages = _messages(conversation)
    return render_template(
        "assistant/_panel.html", conversation=conversation, messages=messages,
        last_id=messages[-1].id if messages else 0, form=form or QuestionForm(formdata=None),
        handover=HandOverForm(formdata=None), button=ButtonForm(formdata=None), error=error,
        agents_open=hours().is_open(utcnow()), agent_hours=hours().describe(), side="user"), status


def _can_read(domain: str) -> bool:
    return has_right(domain, "consultation")


def _answer(question: str, piece_id: int | None):
    return assistant.answer(question, g.structure, _can_read, utcnow(), piece_id=piece_id)


def _resolve(link) -> str:
    return url_for(link.endpoint, **dict(link.values))


@bp.get("")
def panel():
    return _panel()


@bp.post("/questions")
def ask():
    form = QuestionForm()
    if not form.validate_on_submit():
        return _panel(form=form, error="Votre page a expiré : rechargez-la.", status=422)
    try:
        conversation, _ = ops.ask(g.structure, current_user, form.question.data or "",
                                  conversation_id=form.conversation_id.data or None, page_url=form.page.data,
                                  now=utcnow(), answer=_answer, resolve=_resolve)
    except OperationError as error:
        return _panel(form=form, error=str(error), status=422)
    return _panel(conversation)


@bp.post("/agent")
def hand_over():
    form = HandOverForm()
    if not form.validate_on_submit():
        return _panel(error="Votre page a expiré : rechargez-la.", status=422)
    try:
        conversation = ops.hand_over(g.structure, current_user, form.conversation_id.data or None,
                                     page_url=form.page.data, now=utcnow(), hours=hours())
    except OperationError as error:
        return _panel(error=str(error), status=422)
    return _panel(conversation)


@bp.post("/nouvelle")
def new_conversation():
    if not ButtonForm().validate_on_submit():
        return _panel(error="Votre page a expiré : rechargez-la.", status=422)
    conversation = ops.current_for(g.structure, current_user)
    if conversation is not None and conversation.with_agent:
        try:
            ops.close(conversation, current_user, utcnow())
        except OperationError as error:
            return _panel(error=str(error), status=422)
    return _panel(ops.start_new(g.structure, current_user, utcnow(), page_url=request.form.get("page")))


def _own_or_404(conversation_id: int) -> Conversation:
    conversation = db.session.get(Conversation, conversation_id)
    if conversation is None or conversation.structure_id != g.structure.id \
            or conversation.account_id != current_user.id:
        abort(404)
    return conversation


def _render_line(side: str):
    def render(message: ConversationMessage) -> str:
        return render_template("assistant/_message.html", message=message, side=side)
    return render


@bp.get("/conversations/<int:conversation_id>/flux")
def stream(conversation_id: int):
    conversation = _own_or_404(conversation_id)
    return sse.stream(conversation.id, _render_line("user"))


# --- The operators' console ----------------------------------------------------------------------------------------

def operator_required(view):
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_operator:
            abort(403)
        return view(*args, **kwargs)
    return wrapper


@operator_bp.get("/conversations")
@operator_required
def queue():
    """Waiting conversations first (the oldest hand-over first), then those taken, with the structure, page and
    piece the user was on."""
    rows = db.session.execute(
        select(Conversation, Structure.name, Account)
        .join(Structure, Structure.id == Conversation.structure_id)
        .join(Account, Account.id == Conversation.account_id)
        .where(Conversation.status.in_(("waiting", "active")))
        .order_by((Conversation.status == "active"), Conversation.handed_over_at, Conversation.id)).all()
    operators = dict(db.session.execute(select(Account.id, Account.first_name).where(Account.is_operator)).all())
    failed = db.session.scalar(select(func.count()).select_from(ConversationMessage)
                               .where(ConversationMessage.failed.is_(True)))
    return render_template("assistant/queue.html", rows=rows, operators=operators, failed=failed,
                           agents_open=hours().is_open(utcnow()), agent_hours=hours().describe(),
                           STATUS_LABELS=CONVERSATION_STATUS_LABELS, name_page=name_page)


def _conversation_or_404(conversation_id: int) -> Conversation:
    conversation = db.session.get(Conversation, conversation_id)
    if conversation is None:
        abort(404)
    return conversation


def _console(conversation: Conversation, form: ReplyForm | None = None, error: str | None = None, status=200):
    structure = db.session.get(Structure, conversation.structure_id)
    author = db.session.get(Account, conversation.account_id)
    taker = db.session.get(Account, conversation.operator_id) if conversation.operator_id else None
    messages = _messages(conversation)
    return render_template(
        "assistant/operator_show.html", conversation=conversation, structure=structure, author=author,
        taker=taker, messages=messages, last_id=messages[-1].id if messages else 0,
        form=form or ReplyForm(formdata=None), button=ButtonForm(formdata=None), error=error,
        STATUS_LABELS=CONVERSATION_STATUS_LABELS, side="operator", page=name_page(conversation.page_url)), status


@operator_bp.get("/conversations/<int:conversation_id>")
@operator_required
def conversation(conversation_id: int):
    return _console(_conversation_or_404(conversation_id))


@operator_bp.post("/conversations/<int:conversation_id>/prendre")
@operator_required
def take(conversation_id: int):
    found = _conversation_or_404(conversation_id)
    if not ButtonForm().validate_on_submit():
        return _console(found, error="Votre page a expiré : rechargez-la.", status=422)
    try:
        ops.take(found.id, current_user, utcnow())
    except OperationError as error:
        return _console(found, error=str(error), status=422)
    return _see_console(found)


def _see_console(conversation: Conversation):
    """After a change, back to the conversation's page (a reload then repeats nothing)."""
    return redirect(url_for("chat_operator.conversation", conversation_id=conversation.id), 303)


@operator_bp.post("/conversations/<int:conversation_id>/repondre")
@operator_required
def answer(conversation_id: int):
    found = _conversation_or_404(conversation_id)
    form = ReplyForm()
    if not form.validate_on_submit():
        return _console(found, form, error="Votre page a expiré : rechargez-la.", status=422)
    try:
        ops.operator_say(found.id, current_user, form.body.data or "", utcnow())
    except OperationError as error:
        return _console(found, form, error=str(error), status=422)
    return _see_console(found)


@operator_bp.post("/conversations/<int:conversation_id>/terminer")
@operator_required
def close(conversation_id: int):
    found = _conversation_or_404(conversation_id)
    if not ButtonForm().validate_on_submit():
        return _console(found, error="Votre page a expiré : rechargez-la.", status=422)
    try:
        ops.close(db.session.get(Conversation, found.id, with_for_update=True), current_user, utcnow())
    except OperationError as error:
        return _console(found, error=str(error), status=422)
    return _see_console(found)


@operator_bp.get("/conversations/<int:conversation_id>/flux")
@operator_required
def operator_stream(conversation_id: int):
    return sse.stream(_conversation_or_404(conversation_id).id, _render_line("operator"))


@operator_bp.get("/questions-sans-reponse")
@operator_required
def failed_questions():
    """The questions the assistant could not answer, newest first: what to turn into help articles."""
    rows = db.session.execute(
        select(ConversationMessage, Structure.name)
        .join(Conversation, Conversation.id == ConversationMessage.conversation_id)
        .join(Structure, Structure.id == Conversation.structure_id)
        .where(ConversationMessage.failed.is_(True))
        .order_by(ConversationMessage.at.desc(), ConversationMessage.id.desc()).limit(500)).all()
    return render_template("assistant/failed.html", rows=rows, button=ButtonForm(formdata=None))


@operator_bp.post("/questions-sans-reponse/<int:message_id>/traitee")
@operator_required
def dismiss(message_id: int):
    if ButtonForm().validate_on_submit():
        try:
            ops.dismiss_failed(message_id, current_user)
        except OperationError:
            pass  # already off the list (another operator): the list shows it
    return redirect(url_for("chat_operator.failed_questions"), 303)
