"""French words for the help centre's search: split, fold accents, stem with Snowball.

The stemmer is the Snowball French algorithm (PyStemmer, the Snowball project's C bindings: the same algorithm as
PostgreSQL's `french_stem`, a hundred times faster than its pure-Python port).
A word gets two stems: the stem of the word as written, accents folded afterwards ("rejetée" → "rejet"), and the
stem of the word typed without accents ("rejetee" → "rejete"). The stemmer's rules read accents, so the two can
differ; indexing both and looking both up makes "rejetee" find "rejetée" whichever way either side was typed.

A hyphenated word is kept as its parts and as one word ("sous-traitant" → "sous", "traitant", "soustraitant";
"Factur-X" → "factur", "facturx"), as PostgreSQL's parser does, so "soustraitant" and "facturx" find them too.
"""
from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

# Words that carry no meaning for a search (folded). Not "fait" (« service fait »), not "pas" in a title, etc.:
# only the little words of a question.
STOPWORDS = frozenset("""
a ai as au aux avec c ca ce ces cet cette comment d dans de des du elle elles en est et etre eux il ils j je
l la le les leur leurs lui m ma mais me mes moi mon n ne nos notre nous o on ont ou par pas peut peux pour pourquoi
qu quand que quel quelle quelles quels qui quoi s sa sans se ses si sont son sur t ta te tes toi ton tu un une
vos votre vous y faire faut dois doit veux voudrais comment est-ce
""".split())

# Letters and digits, accents included; a hyphen inside a word keeps it whole ("sous-traitant", "Factur-X").
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")

_stemmer = Stemmer.Stemmer("french")
_lock = threading.Lock()  # a stemmer object is not thread-safe (its documentation says so): one word at a time


def fold(text: str) -> str:
    """Lower case, without accents, œ and æ spelt out: "Maître d'Œuvre" → "maitre d'oeuvre"."""
    text = text.lower().replace("œ", "oe").replace("æ", "ae")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_fold_word = lru_cache(maxsize=50_000)(fold)


@lru_cache(maxsize=50_000)
def stems(word: str) -> frozenset[str]:
    """The stems of one lower-case word: of the word as written (then folded) and of the folded word."""
    folded = _fold_word(word)
    with _lock:
        written = _stemmer.stemWord(word)
        plain = _stemmer.stemWord(folded)
    return frozenset((fold(written), plain))


@dataclass(frozen=True)
class Token:
    """A word of a text: its position among the kept words, the folded word as typed, its stems, and where it is
    in the text (start, end offsets)."""

    position: int
    surface: str
    forms: frozenset[str]
    start: int
    end: int


def tokens(text: str, keep_stopwords: bool = False, min_length: int = 2) -> list[Token]:
    """The words of a text, in order. Stopwords and words shorter than `min_length` are dropped (not counted in positions, so
    "retenue de garantie" has "retenue" and "garantie" side by side). A hyphenated word gives its parts and,
    at the position of its first part, the whole word without hyphens."""
    found: list[Token] = []
    position = 0
    for match in _WORD.finditer(text.lower()):
        word = match.group()
        parts = word.split("-")
        if len(parts) > 1:
            joined = "".join(parts)
            found.append(Token(position, _fold_word(joined), stems(joined), match.start(), match.end()))
        start, kept = match.start(), False
        for part in parts:
            end = start + len(part)
            folded = _fold_word(part)
            if len(folded) >= min_length and (keep_stopwords or folded not in STOPWORDS):
                found.append(Token(position, folded, stems(part), start, end))
                position += 1
                kept = True
            start = end + 1  # past the hyphen
        if len(parts) > 1 and not kept:
            position += 1  # the whole word stands alone ("Factur-X" keeps "facturx" when "x" is too short)
    return found
