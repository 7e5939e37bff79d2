"""The assistant: answers a member's question in French, from the structure's own data (read through the one
access predicate, as the pages read it) and from the help centre.

- `reading`: what a question names and asks (pure);
- `facts`: the pieces it may know of, under the pages' access;
- `replies`: the answers in words (pure);
- `brain.answer(question, structure, can_read, now, piece_id)`: the one entry point.
"""
from chorus_chain.assistant.brain import answer
from chorus_chain.assistant.replies import ANSWERED, ASK_BACK, CHAT, HANDOVER, UNKNOWN, Answer, Link

__all__ = ["ANSWERED", "ASK_BACK", "CHAT", "HANDOVER", "UNKNOWN", "Answer", "Link", "answer"]
