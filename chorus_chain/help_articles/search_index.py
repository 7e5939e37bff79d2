"""Search the help centre: a question in French → the articles that answer it, best first, with a snippet each.

`search(query)` is the one entry point, for the help pages and for the assistant (issue 18): pure Python, no Flask,
no database, the same answer on PostgreSQL and SQLite. Why in-process rather than the database's full-text search
is argued in CONTRIBUTING.md ("Help centre"): in short, the articles are code (about fifty), the embedded
SQLite has no French stemmer, and neither engine forgives a typo or knows that « mdp » is a « mot de passe ».

How a question is read:
1. its words are stemmed with Snowball's French stemmer, accents folded (`text.tokens`);
2. expressions of the thesaurus (`synonyms.GROUPS`) found in it stand for their whole group;
3. two words that make one word of the articles are joined (« auto liquidation », « factur x »);
4. a word no article contains is corrected to the nearest words of the articles (Levenshtein distance 1, or 2 for
   long words, with rapidfuzz), counting less than a word found as typed.
Each group of words so formed is a *concept*; an article scores BM25F over its fields (title, keywords, headings,
body — a word of the title counts most), summed over concepts, times the square of the share of concepts it
matched (an article answering the whole question beats one that repeats one of its words), and an expression found
as a phrase (« retenue de garantie », words side by side) counts more than its words scattered.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from markupsafe import Markup, escape
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from chorus_chain.help_articles.library import Article
from chorus_chain.help_articles.synonyms import GROUPS, SYNONYM_WEIGHT
from chorus_chain.help_articles.text import Token, fold, tokens

MAX_QUERY = 200  # characters read from a question
MAX_WORDS = 12  # words kept from a question
SNIPPET_LENGTH = 220  # characters of an excerpt

# (field, weight, length normalisation b): a word of the title says more than a word of the body.
FIELDS = (("title", 3.0, 0.3), ("keywords", 2.5, 0.3), ("headings", 1.5, 0.5), ("body", 1.0, 0.75))
K1 = 1.2
PHRASE_BONUS = 1.5  # an expression of several words found with its words side by side
FUZZY_WEIGHT = 0.7  # a word corrected to a near word of the articles
RELATIVE_CUTOFF = 0.1  # hits below this share of the best score are noise
_GAP = 10  # positions between two keywords (or headings): they are not one phrase


@dataclass(frozen=True)
class Hit:
    """An article that answers a question: its relevance `score` (comparable within one query), the share of the
    question's concepts it matched (`coverage`, 0–1), an excerpt of its text with the spans to emphasise, the words
    of the question it matched (as typed), and whether a spelling correction was needed (`corrected`)."""

    article: Article
    score: float
    coverage: float
    snippet: str
    highlights: tuple[tuple[int, int], ...]
    matched: tuple[str, ...]
    corrected: bool

    @property
    def snippet_html(self) -> Markup:
        """The excerpt as safe HTML: the text escaped, the matched words in <mark>."""
        out, last = [], 0
        for start, end in self.highlights:
            out.append(escape(self.snippet[last:start]))
            out.append(Markup("<mark>%s</mark>") % self.snippet[start:end])
            last = end
        out.append(escape(self.snippet[last:]))
        return Markup("").join(out)


# --- The index ------------------------------------------------------------------------------------------------------


@dataclass
class _Field:
    counts: dict[str, int] = field(default_factory=dict)
    positions: dict[str, set[int]] = field(default_factory=dict)
    length: int = 0

    def add(self, found: Iterable[Token], offset: int = 0) -> int:
        """Count the tokens from position `offset`; returns the last position used."""
        last = offset
        for token in found:
            for form in token.forms:
                self.counts[form] = self.counts.get(form, 0) + 1
                self.positions.setdefault(form, set()).add(offset + token.position)
            last = max(last, offset + token.position)
            self.length += 1
        return last


@dataclass
class _Doc:
    article: Article
    fields: dict[str, _Field]
    body_tokens: list[Token]
    summary_tokens: list[Token]


def _field_of(parts: Sequence[list[Token]]) -> _Field:
    """A field from the tokens of its parts (the keywords, the headings), with a gap between two parts."""
    result, offset = _Field(), 0
    for found in parts:
        offset = result.add(found, offset) + _GAP
    return result


@dataclass(frozen=True)
class _Alternative:
    """One way a concept may be present: a sequence of slots (each a set of stems; all must be present), with a
    weight, and whether it came from a spelling correction."""

    slots: tuple[frozenset[str], ...]
    weight: float = 1.0
    corrected: bool = False


@dataclass
class _Concept:
    words: tuple[str, ...]  # the question's words it stands for, as typed (folded)
    alternatives: list[_Alternative]


class HelpIndex:
    """The articles, indexed once (a few milliseconds for the whole centre)."""

    def __init__(self, articles: Sequence[Article]):
        self.docs: list[_Doc] = []
        self.vocabulary: dict[str, frozenset[str]] = {}  # the articles' words as written (folded) → stems
        for article in articles:
            title, body = tokens(article.title), tokens(article.text)
            keywords = [tokens(keyword) for keyword in article.keywords]
            fields = {"title": _field_of([title]), "keywords": _field_of(keywords),
                      "headings": _field_of([tokens(heading) for heading in article.headings]),
                      "body": _field_of([body])}
            self.docs.append(_Doc(article, fields, body, tokens(article.summary)))
            for token in (*title, *body, *(t for found in keywords for t in found)):
                self.vocabulary.setdefault(token.surface, token.forms)
        self.average = {name: (sum(d.fields[name].length for d in self.docs) / len(self.docs) if self.docs else 1.0)
                        or 1.0 for name, _, _ in FIELDS}
        self.doc_forms: list[frozenset[str]] = [
            frozenset().union(*(f.counts.keys() for f in d.fields.values())) for d in self.docs]
        self.df: dict[str, int] = {}
        for forms in self.doc_forms:
            for form in forms:
                self.df[form] = self.df.get(form, 0) + 1
        self._surfaces = sorted(self.vocabulary)
        self.expressions: list[tuple[int, tuple[frozenset[str], ...]]] = []
        for number, group in enumerate(GROUPS):
            for expression in group:
                for slots in _expression_slots(expression):
                    self.expressions.append((number, slots))
        self.expressions.sort(key=lambda item: -len(item[1]))  # the longest expression first

    # --- reading a question ---

    def concepts(self, query: str) -> list[_Concept]:
        """The concepts of a question, in its order (see the module's docstring)."""
        # One-letter words are kept for a moment: "factur x" is "facturx" once joined.
        found = tokens((query or "")[:MAX_QUERY], min_length=1)
        words = [t for t in found if not _is_joined(t, found)][:MAX_WORDS]
        joined = {t.position: t for t in found if _is_joined(t, found)}
        taken = [False] * len(words)
        spans: list[tuple[int, _Concept]] = []

        def take(i: int, width: int, concept: _Concept) -> None:
            spans.append((i, concept))
            taken[i:i + width] = [True] * width

        def free(i: int, width: int) -> bool:
            return i + width <= len(words) and not any(taken[i:i + width])

        # 1. Expressions of several words ("mot de passe", "retenue de garantie"), the longest first.
        for number, slots in self.expressions:
            for i in range(len(words) - len(slots) + 1):
                if len(slots) > 1 and free(i, len(slots)) \
                        and all(words[i + j].forms & slot for j, slot in enumerate(slots)):
                    take(i, len(slots), self._synonym_concept(number, slots, words[i:i + len(slots)]))
        # 2. A hyphenated word of the question, whole ("auto-liquidation", "factur-x", "faktur-x").
        for i, word in enumerate(words):
            whole = joined.get(word.position)
            width = _joined_width(whole, words, i) if whole else 0
            if whole and free(i, width):
                concept = self._expression_concept(whole, words[i:i + width]) or self._joined_concept(
                    whole.forms, words[i:i + width], fuzzy_of=whole.surface)
                if concept:
                    take(i, width, concept)
        # 3. Two words that make one word of the articles ("auto liquidation", "factur x").
        for i in range(len(words) - 1):
            pair = words[i:i + 2]
            if free(i, 2) and all(any(c.isalpha() for c in w.surface) for w in pair):  # "1 1" is not "11"
                concept = self._joined_concept(self.vocabulary.get(pair[0].surface + pair[1].surface), pair)
                if concept:
                    take(i, 2, concept)
        # 4. One word, alone: an expression of the thesaurus ("mdp", "RIB"), or itself — corrected when no article
        #    has it.
        for i, word in enumerate(words):
            if not free(i, 1) or len(word.surface) < 2:
                continue
            concept = self._expression_concept(word, [word])
            if concept is None:
                alternatives = [_Alternative((frozenset(word.forms),))]
                if not word.forms & self.df.keys():
                    alternatives += [_Alternative((near,), FUZZY_WEIGHT, True) for near in self._near(word.surface)]
                concept = _Concept((word.surface,), alternatives)
            take(i, 1, concept)
        return [concept for _, concept in sorted(spans, key=lambda item: item[0])]

    def _expression_concept(self, token: Token, words: Sequence[Token]) -> _Concept | None:
        """The thesaurus group of a one-word expression this token is, or None."""
        for number, slots in self.expressions:
            if len(slots) == 1 and token.forms & slots[0]:
                return self._synonym_concept(number, slots, words)
        return None

    def _joined_concept(self, forms: frozenset[str] | None, parts: Sequence[Token], fuzzy_of: str | None = None
                        ) -> _Concept | None:
        """Words that make one word of the articles: that word, or the words themselves side by side. A hyphenated
        word no article has (`fuzzy_of`) is corrected to the nearest ones."""
        if forms and forms & self.df.keys():
            alternatives = [_Alternative((frozenset(forms),))]
        elif fuzzy_of is not None:
            alternatives = [_Alternative((near,), FUZZY_WEIGHT, True) for near in self._near(fuzzy_of)]
        else:
            return None
        kept = [w for w in parts if len(w.surface) > 1]
        if kept:
            alternatives.append(_Alternative(tuple(frozenset(w.forms) for w in kept)))
        return _Concept(tuple(w.surface for w in parts), alternatives) if alternatives else None

    def _synonym_concept(self, number: int, matched: tuple[frozenset[str], ...], words: Sequence[Token]) -> _Concept:
        alternatives = [_Alternative(slots, 1.0 if slots == matched else SYNONYM_WEIGHT)
                        for n, slots in self.expressions if n == number]
        return _Concept(tuple(w.surface for w in words), alternatives)

    def _near(self, surface: str) -> list[frozenset[str]]:
        """The stems of the articles' words nearest to a word no article has (a typo), nearest first."""
        if len(surface) < 4 or not surface.isalpha():
            return []
        limit = 1 if len(surface) < 8 else 2
        found = process.extract(surface, self._surfaces, scorer=Levenshtein.distance, score_cutoff=limit,
                                limit=5)
        return list(dict.fromkeys(self.vocabulary[match] for match, _, _ in found))

    # --- scoring ---

    def _slot_score(self, doc_index: int, slot: frozenset[str]) -> float:
        doc = self.docs[doc_index]
        present = slot & self.doc_forms[doc_index]
        if not present:
            return 0.0
        weighted = 0.0
        for name, weight, b in FIELDS:
            counts = doc.fields[name].counts
            tf = max((counts.get(form, 0) for form in present), default=0)
            if tf:
                norm = 1 - b + b * doc.fields[name].length / self.average[name]
                weighted += weight * tf / norm
        df = max(self.df.get(form, 0) for form in present)
        n = len(self.docs)
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return idf * weighted / (K1 + weighted)

    def _phrase(self, doc_index: int, slots: tuple[frozenset[str], ...]) -> bool:
        for name, _, _ in FIELDS:
            positions = self.docs[doc_index].fields[name].positions
            starts = set().union(*(positions.get(form, set()) for form in slots[0]))
            for step, slot in enumerate(slots[1:], start=1):
                here = set().union(*(positions.get(form, set()) for form in slot))
                starts = {p for p in starts if p + step in here}
                if not starts:
                    break
            if starts:
                return True
        return False

    def search(self, query: str, limit: int | None = 10) -> list[Hit]:
        concepts = self.concepts(query)
        if not concepts:
            return []
        scored = []
        for index, doc in enumerate(self.docs):
            total, matched_concepts, matched_forms, corrected, words = 0.0, 0, set(), False, []
            found_forms: set[str] = set()
            for concept in concepts:
                best, best_alternative = 0.0, None
                for alternative in concept.alternatives:
                    slot_scores = [self._slot_score(index, slot) for slot in alternative.slots]
                    if not all(slot_scores):
                        continue
                    found_forms.update(*alternative.slots)  # every way the concept is present is highlighted
                    # The mean, not the sum: an expression of three words is one concept, as a word is.
                    value = sum(slot_scores) / len(slot_scores) * alternative.weight
                    if len(alternative.slots) > 1 and self._phrase(index, alternative.slots):
                        value *= PHRASE_BONUS
                    if value > best:
                        best, best_alternative = value, alternative
                if best_alternative is not None:
                    total += best
                    matched_concepts += 1
                    matched_forms.update(found_forms)
                    corrected = corrected or best_alternative.corrected
                    words += concept.words
            if matched_concepts:
                coverage = matched_concepts / len(concepts)
                scored.append((total * coverage ** 2, coverage, index, matched_forms, corrected, words))
        if not scored:
            return []
        best_score = max(item[0] for item in scored)
        scored = [item for item in scored if item[0] >= best_score * RELATIVE_CUTOFF]
        scored.sort(key=lambda item: (-item[0], self.docs[item[2]].article.title))
        hits = []
        for score, coverage, index, forms, corrected, words in scored[:limit]:
            snippet, highlights = self._snippet(self.docs[index], forms)
            hits.append(Hit(self.docs[index].article, round(score, 4), round(coverage, 3), snippet, highlights,
                            tuple(dict.fromkeys(words)), corrected))
        return hits

    # --- the excerpt ---

    def _snippet(self, doc: _Doc, forms: set[str]) -> tuple[str, tuple[tuple[int, int], ...]]:
        text = doc.article.text
        matches = [t for t in doc.body_tokens if t.forms & forms]
        if not matches:
            return _excerpt(doc.article.summary, 0, [t for t in doc.summary_tokens if t.forms & forms])
        # The start that shows the most distinct matched words within one excerpt.
        best, best_count = matches[0], 0
        for candidate in matches:
            seen = set().union(*(t.forms & forms for t in matches
                                 if candidate.start <= t.start < candidate.start + SNIPPET_LENGTH - 40))
            if len(seen) > best_count:  # strictly more: the earliest of the best windows
                best, best_count = candidate, len(seen)
        start = _sentence_start(text, best.start)
        return _excerpt(text, start, matches)


@lru_cache(maxsize=4096)
def _expression_slots(expression: str) -> tuple[tuple[frozenset[str], ...], ...]:
    """An expression of the thesaurus as slots: its words, a hyphenated word as one joined word."""
    found = tokens(expression)
    slots, covered = [], -1
    for token in found:  # a hyphenated word counts as one word: "Factur-X" is "facturx", never "factur" alone
        if token.start < covered:
            continue
        slots.append(frozenset(token.forms))
        if _is_joined(token, found):
            covered = token.end
    return (tuple(slots),) if slots else ()


def _is_joined(token: Token, found: Sequence[Token]) -> bool:
    """The whole of a hyphenated word (its parts are tokens of their own, starting at the same offset)."""
    return any(other is not token and other.start == token.start and other.end < token.end for other in found)


def _joined_width(whole: Token, words: Sequence[Token], i: int) -> int:
    """How many words of the question the hyphenated word `whole` covers, from word i."""
    width = 0
    while i + width < len(words) and words[i + width].end <= whole.end:
        width += 1
    return max(width, 1)


def _sentence_start(text: str, at: int) -> int:
    """Where the excerpt starts: the sentence's start if it is near, otherwise a word boundary before `at`."""
    window = text[max(0, at - 80):at]
    cut = max(window.rfind(". "), window.rfind(" : "), window.rfind("; "))
    if cut >= 0:
        return max(0, at - 80) + cut + 2
    if at <= 40:
        return 0
    space = text.rfind(" ", 0, at - 30)
    return space + 1 if space >= 0 else 0


def _excerpt(text: str, start: int, matches: Sequence[Token]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """About SNIPPET_LENGTH characters of `text` from `start`, cut at a word boundary, with "…" where it is cut, and
    the spans of the matched words (merged when they overlap: a hyphenated word and its parts)."""
    start = _skip_spaces(text, start)
    end = min(len(text), start + SNIPPET_LENGTH)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    body = text[start:end].rstrip(" ,;:")
    spans: list[list[int]] = []
    for token in sorted(matches, key=lambda t: (t.start, -t.end)):
        if token.start < start or token.end > start + len(body):
            continue
        a, b = token.start - start + len(prefix), token.end - start + len(prefix)
        if spans and a <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    return prefix + body + suffix, tuple((a, b) for a, b in spans)


def _skip_spaces(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \u00a0\u202f":
        at += 1
    return at

