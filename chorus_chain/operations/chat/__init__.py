"""The assistant's conversations and the live chat with an agent (issue 18): every change of a conversation.

Load, check, change, flush — never commit (the request does). A refusal is an `OperationError` in French and changes
nothing. The transcript is the database's: the panel, the console and the event streams read it.
"""
from chorus_chain.operations.chat.conversations import (
    ask,
    close,
    current_for,
    dismiss_failed,
    hand_over,
    operator_say,
    start_new,
    take,
    transcript_text,
)

__all__ = ["ask", "close", "current_for", "dismiss_failed", "hand_over", "operator_say", "start_new", "take",
           "transcript_text"]
