"""Server-sent events for a conversation: the browser keeps an `EventSource` open and receives each new message as
the HTML of one line of the transcript, as soon as it is stored.

Why SSE and not WebSockets: messages flow one way on this channel (writing is an ordinary POST, with its CSRF check
and its one commit), SSE is plain HTTP (the embedded `flask run` server, gunicorn's threads, any proxy), and the
browser reconnects by itself, sending `Last-Event-ID`, so nothing is lost across a drop. Why reading the database and
not a pub/sub channel: the database is the truth (a second agent, a reload, a restarted Redis lose nothing), and a
conversation is read by an index probe (`ix_conversation_message_conversation`) once a second at most.

One response stays open `CHAT_STREAM_SECONDS` (25 s), then ends; the browser comes back after `retry` (1 s) with the
last id it got. Each read ends its transaction, so a stream holds no connection in a transaction while it waits, and
sees what other requests committed.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from flask import Response, current_app, request, stream_with_context
from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.models.chat import Conversation, ConversationMessage


def _after() -> int:
    for raw in (request.headers.get("Last-Event-ID"), request.args.get("after")):
        try:
            return max(0, int(raw))
        except (TypeError, ValueError):
            continue
    return 0


def event(message_id: int, html: str, name: str = "message") -> str:
    lines = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return f"id: {message_id}\nevent: {name}\n{lines}\n"


def stream(conversation_id: int, render: Callable[[ConversationMessage], str]) -> Response:
    seconds = float(current_app.config.get("CHAT_STREAM_SECONDS", 25))
    poll = float(current_app.config.get("CHAT_POLL_SECONDS", 1))
    after = _after()

    def generate():
        last = after
        yield "retry: 1000\n\n"
        ends = time.monotonic() + seconds
        while True:
            rows = db.session.scalars(select(ConversationMessage).where(
                ConversationMessage.conversation_id == conversation_id, ConversationMessage.id > last)
                .order_by(ConversationMessage.id)).all()
            status = db.session.scalar(select(Conversation.status).where(Conversation.id == conversation_id))
            chunks = [event(row.id, render(row)) for row in rows]
            db.session.rollback()  # end the read: hold nothing while waiting, see the next commits
            for row, chunk in zip(rows, chunks):
                last = row.id
                yield chunk
            if rows:
                yield f"event: status\ndata: {status}\n\n"
            if time.monotonic() >= ends:
                return
            time.sleep(poll)

    return Response(stream_with_context(generate()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
