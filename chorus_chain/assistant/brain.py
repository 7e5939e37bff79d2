"""From a question to an answer: read it (`reading`), find what it is about in the structure's data under the
pages' access (`facts`), and say it (`replies`) — or ask back, or say it does not know.

The order of the questions asked of a question:
1. greetings, thanks, « un agent » — answered at once;
2. the pieces it names: by number (each code of the question), else the piece of the page the user is on, else by
   the statuses, amounts, dates or SIRETs it names, else « ma dernière facture »; one piece → its answer for the
   intent (where, why, when paid, who); several → ask back; a number found nowhere → « je ne trouve aucune pièce »,
   the same words whether it does not exist or the structure may not see it;
3. a marché reference it names → the structure's pieces on that marché;
4. what a status or a cadre means;
5. the help centre's articles (`help_articles.search`), taken only when the best one covers the question well;
6. otherwise: « je ne sais pas » (and the panel offers an agent).
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime

from chorus_chain.assistant import facts as data
from chorus_chain.assistant import reading as R
from chorus_chain.assistant import replies
from chorus_chain.domain import statuses
from chorus_chain.domain.cadres import CADRES
from chorus_chain.formatting import PARIS
from chorus_chain.models import Structure

PIECE_INTENTS = (R.WHERE, R.WHY, R.WHEN_PAID, R.WHO)
# An article is an answer only when it matches most of the question (`Hit.coverage`, the share of the question's
# concepts it contains) — below, the assistant rather says it does not know (wrong with confidence is worse).
MIN_COVERAGE = 0.6


def _for_intent(reading: R.Reading, facts: data.PieceFacts) -> replies.Answer:
    intent = next((i for i in reading.intents if i in PIECE_INTENTS), R.WHERE)
    if intent == R.WHY:
        return replies.why(facts)
    if intent == R.WHEN_PAID:
        return replies.when_paid(facts)
    if intent == R.WHO:
        return replies.who(facts)
    # « où en est ma facture rejetée » / « ma facture suspendue ? »: the reason is what they want to know
    if statuses.is_final(facts.status) and not facts.paid or facts.reason:
        return replies.why(facts)
    return replies.where(facts)


def _one_or_several(structure, pieces, reading, now, typed=None) -> replies.Answer:
    if len(pieces) == 1:
        return _for_intent(reading, data.facts_of(pieces[0], structure, now))
    return replies.several(typed, [data.facts_of(p, structure, now) for p in pieces[:data.MAX_CANDIDATES]])


def answer(question: str, structure: Structure, can_read: data.CanRead, now: datetime,
           piece_id: int | None = None) -> replies.Answer:
    """The answer to one question of a member of `structure`. `can_read(domain)`: whether the member may read a
    rights domain (the pages' rule); `piece_id`: the piece of the page the user is on, if any."""
    today = now.astimezone(PARIS).date()
    reading = R.read(question, today)
    intents = set(reading.intents)
    if R.AGENT in intents:
        return replies.handover()
    if not reading.codes and not reading.mentions_piece and not (intents - {R.GREETING, R.THANKS}):
        if R.THANKS in intents:
            return replies.thanks()
        if R.GREETING in intents and len(reading.text.split()) <= 3:
            return replies.greeting()

    # 2. Pieces named by number; marché references and cadres among the codes.
    marche = None
    for code in reading.codes:
        if code in CADRES and (R.MEANS in intents or not reading.intents):
            return replies.cadre_meaning(code, CADRES[code].label)
        found_marche = data.marche_named(structure, code)
        if found_marche is not None:
            marche = found_marche
            continue
        if code in CADRES:
            continue
        pieces = data.pieces_numbered(structure, code, can_read)
        if not pieces and intents & {R.MEANS, R.HOW} and not intents & set(PIECE_INTENTS):
            continue  # « c'est quoi le DC4 » : a word of the trade, not a piece number
        if not pieces:
            return replies.no_such_piece(code)
        return _one_or_several(structure, pieces, reading, now, typed=code)

    if R.MEANS in intents and reading.statuses and not reading.codes:
        ordered = [s for s in statuses.Status if s in reading.statuses]
        return replies.status_meaning(ordered)

    wants_piece = reading.mentions_piece and (intents & set(PIECE_INTENTS) or not intents)
    if wants_piece or (intents & {R.WHEN_PAID, R.WHO} and not intents & {R.HOW, R.MEANS}):
        context = data.piece_by_id(structure, piece_id, can_read)
        if context is not None and not (reading.statuses or reading.amounts or reading.sirets or reading.dates):
            return _for_intent(reading, data.facts_of(context, structure, now))
        if reading.statuses or reading.amounts or reading.sirets or reading.dates or marche is not None:
            pieces = data.pieces_matching(structure, can_read, statuses_in=reading.statuses,
                                          amounts=reading.amounts, dates=reading.dates, sirets=reading.sirets,
                                          marche_id=marche.id if marche else None)
            if pieces and (len(pieces) <= data.MAX_CANDIDATES or marche is None):
                return _one_or_several(structure, pieces, reading, now)
            if marche is None and not reading.statuses and reading.mentions_piece:
                return replies.none_in_status("qui corresponde")
        elif reading.wants_last:
            pieces = data.pieces_matching(structure, can_read)
            own = [p for p in pieces if p.emitter_structure_id == structure.id] or pieces
            if own:
                return _for_intent(reading, data.facts_of(own[0], structure, now))
        elif context is not None:
            return _for_intent(reading, data.facts_of(context, structure, now))
        elif not (intents & {R.HOW, R.MEANS}) and not reading.statuses:
            return replies.which_piece()

    if marche is not None:
        pieces = data.pieces_matching(structure, can_read, marche_id=marche.id, own_first=False)
        counts = Counter(statuses.label(p.status) for p in pieces)
        mine = sum(1 for p in pieces if data._waiting_on(p, structure.id))
        return replies.marche_summary(marche.reference, marche.id, dict(counts), mine)

    # 4-5. The help centre.
    from chorus_chain.help_articles import search

    hits = search(R.search_text(reading) or question, 3)
    if hits and hits[0].coverage >= MIN_COVERAGE:
        best = hits[0].article
        # A second article as good (within 15 %) is offered too: the reader picks, rather than the assistant guess.
        close = [h.article for h in hits[1:2] if h.score >= 0.85 * hits[0].score and h.coverage >= MIN_COVERAGE]
        return replies.from_article(best.slug, best.title, best.summary, also=close)
    if R.GREETING in intents:
        return replies.greeting()
    return replies.unknown()
