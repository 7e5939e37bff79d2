"""Reading a question: what it names (piece numbers, marché references, SIRETs, amounts, dates, statuses) and what it
asks (the intent). Pure: no Flask, no database.

Why no NLP pipeline (spaCy's `fr_core_news_sm`): the questions are short, their vocabulary is the product's own
(a few hundred words), and what matters most — a piece number typed « pl 2026 2 », « recyler » for « recycler »,
« quand est ce que je serai paye » — is not what a general-purpose French model recognises. Snowball stems
(PyStemmer, already behind the help centre's search) and rapidfuzz's Levenshtein distance on the product's own cue
words do that in microseconds, with nothing to download (the spaCy model is ~15 MB plus spaCy and its own
dependencies) and no model to load at start-up.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from chorus_chain.domain.statuses import Status
from chorus_chain.help_articles.text import fold

MAX_QUESTION = 1000  # characters; a longer message is refused (the panel says so), never cut silently

# --- Intents --------------------------------------------------------------------------------------------------------
WHERE = "where"  # où en est ma pièce
WHY = "why"  # pourquoi refusée / à recycler / suspendue, que faire
WHEN_PAID = "when_paid"  # quand serai-je payé
WHO = "who"  # qui doit valider / agir
MEANS = "means"  # que veut dire X
HOW = "how"  # comment faire Y
AGENT = "agent"  # parler à quelqu'un
GREETING = "greeting"
THANKS = "thanks"

# Cue expressions (folded, no accents), by intent. Matched on the question after spelling correction, as whole
# words or word sequences; the first intent found in INTENT_ORDER wins when several match.
CUES: dict[str, tuple[str, ...]] = {
    AGENT: ("parler a un agent", "parler a quelqu un", "un agent", "un conseiller", "une conseillere", "un humain",
            "une personne", "un operateur", "parler a un humain", "discuter avec", "chat avec", "agent"),
    WHY: ("pourquoi", "motif", "raison", "refuse", "refusee", "refus", "rejet", "rejete", "rejetee", "recycler",
          "recyclee", "recycle", "suspendue", "suspendu", "suspension", "que faire", "que dois je faire",
          "quoi faire", "corriger", "ce qui ne va pas", "probleme", "renvoyee", "retournee", "bloquee", "bloque"),
    WHEN_PAID: ("quand serai je paye", "quand vais je etre paye", "paye", "payee", "payes", "paiement", "payer",
                "virement", "argent", "regle", "reglee", "reglement", "versement", "toucher", "encaisser",
                "mon fric", "mes sous", "sera payee", "etre paye"),
    WHO: ("qui doit", "qui valide", "qui doit valider", "qui doit agir", "chez qui", "qui attend", "a qui",
          "qui la traite", "qui s en occupe", "qui bloque", "qui a la main", "qui la valide", "qui le valide"),
    MEANS: ("veut dire", "signifie", "c est quoi", "cest quoi", "definition", "qu est ce que", "quest ce que",
            "quesque", "ca veut dire", "que signifie", "difference entre"),
    HOW: ("comment", "je veux", "je voudrais", "puis je", "peut on", "etapes", "procedure", "ou est ce que je",
          "ou puis je", "ou trouver", "ou se trouve", "marche a suivre", "faut il"),
    WHERE: ("ou en est", "ou en sont", "en est", "statut", "avancement", "suivi", "ou est", "ou sont", "nouvelles",
            "ou ca en est", "etat de ma", "etat de la", "etat de mon", "ou elle en est", "que devient", "situation"),
    GREETING: ("bonjour", "salut", "bonsoir", "hello", "coucou"),
    THANKS: ("merci", "super merci", "parfait merci"),
}
INTENT_ORDER = (AGENT, MEANS, WHY, WHEN_PAID, WHO, HOW, WHERE, THANKS, GREETING)

# Words of statuses as people say them (folded) → the statuses they mean (a question « ma facture rejetée »).
STATUS_WORDS: dict[str, frozenset[Status]] = {
    "a recycler": frozenset({Status.A_RECYCLER}),
    "recycler": frozenset({Status.A_RECYCLER}),
    "recyclee": frozenset({Status.A_RECYCLER}),
    "suspendue": frozenset({Status.SUSPENDUE}),
    "suspendu": frozenset({Status.SUSPENDUE}),
    "rejetee": frozenset({Status.REJETEE}),
    "rejete": frozenset({Status.REJETEE}),
    "refusee": frozenset({Status.REFUSEE_1, Status.REFUSEE_2, Status.REFUSEE_MOE, Status.REFUSEE_MOA,
                          Status.REFUSEE_FOURNISSEUR, Status.REFUSEE_CONTRACTANT}),
    "refuse": frozenset({Status.REFUSEE_1, Status.REFUSEE_2, Status.REFUSEE_MOE, Status.REFUSEE_MOA,
                         Status.REFUSEE_FOURNISSEUR, Status.REFUSEE_CONTRACTANT}),
    "brouillon": frozenset({Status.BROUILLON}),
    "mise en paiement": frozenset({Status.MISE_EN_PAIEMENT}),
    "mandatee": frozenset({Status.MANDATEE}),
    "service fait": frozenset({Status.SERVICE_FAIT}),
    "mise a disposition": frozenset({Status.MISE_A_DISPOSITION}),
    "completee": frozenset({Status.COMPLETEE}),
    "a valider": frozenset({Status.A_VALIDER_1, Status.A_VALIDER_2}),
}

# Words that name a piece without its number (« ma facture », « mon projet de décompte »).
PIECE_WORDS = ("facture", "factures", "piece", "pieces", "projet de decompte", "decompte", "avoir", "situation",
               "acompte", "document")
LAST_WORDS = ("derniere", "dernier", "la plus recente", "le plus recent")

_SIRET = re.compile(r"(?<!\d)(\d{3}[ .]?\d{3}[ .]?\d{3}[ .]?\d{5})(?!\d)")
_DATE_NUMERIC = re.compile(r"(?<!\d)(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2,4}))?(?!\d)")
_MONTHS = {"janvier": 1, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6, "juillet": 7, "aout": 8,
           "septembre": 9, "octobre": 10, "novembre": 11, "decembre": 12}
_DATE_WORDS = re.compile(r"(?<!\d)(\d{1,2})(?:er)? (" + "|".join(_MONTHS) + r")(?: (\d{4}))?")
_AMOUNT = re.compile(r"(?<![\w,.])(\d{1,3}(?:[  .]\d{3})+|\d+)(?:[,.](\d{1,2}))? ?(?:€|eur\b|euros?\b|e\b|k€)",
                     re.IGNORECASE)
# A piece number or a marché reference: a word with a digit and a letter or separator (PL-2026-002, F12, 2026/14)…
_CODE = re.compile(r"(?<![\w/.-])([a-z0-9]+(?:[-_/.][a-z0-9]+)+|[a-z]+\d[a-z0-9]*|\d+[a-z][a-z0-9]*)(?![\w/-])")
_DIGIT = re.compile(r"\d")
# …or one typed with spaces (« pl 2026 002 », « DB 2026 3 »): letters, then one or two groups of digits.
_SPACED_CODE = re.compile(r"(?<![\w-])([a-z]{1,4}) ?[-_/.]? ?(\d{2,4})(?: ?[-_/.]? ?(\d{1,6}))?(?![\w-])")


@dataclass(frozen=True)
class Reading:
    """What a question says. `text` is the folded question after spelling correction of the cue words."""

    question: str
    text: str
    intent: str | None
    intents: tuple[str, ...]
    codes: tuple[str, ...] = ()  # piece numbers or marché references, as typed (upper case)
    sirets: tuple[str, ...] = ()
    amounts: tuple[Decimal, ...] = ()
    dates: tuple[date, ...] = ()
    statuses: frozenset[Status] = field(default_factory=frozenset)
    mentions_piece: bool = False
    wants_last: bool = False
    corrected: tuple[tuple[str, str], ...] = ()  # (typed, read as)


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[str, ...]:
    """Every word of the cues and status words, for spelling correction (5 letters or more: shorter ones are too
    easily confused)."""
    words: set[str] = set()
    for phrases in (*CUES.values(), tuple(STATUS_WORDS), PIECE_WORDS, LAST_WORDS):
        for phrase in phrases:
            words.update(w for w in phrase.split() if len(w) >= 5)
    return tuple(sorted(words))


# Words that look like a typo of a cue word but are ordinary words of questions (never corrected).
_KEEP = frozenset("""
facture factures piece pieces marche marches valide valider validation montant montants numero decompte acompte
etats etat depose deposer deposee creer structure compte service services sous traitant traitants soustraitant
notre votre votres leurs cette celle celui quand quelle quelles quels comment combien depuis encore toujours
retenue garantie avance avances revision indice indices autoliquidation mandataire cotraitant titulaire
oeuvre ouvrage maitre groupement chorus delai delais date dates jours semaine semaines
""".split())


def _correct(words: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    vocabulary = _vocabulary()
    known = set(vocabulary)
    out, corrections = [], []
    for word in words:
        if len(word) < 5 or word in known or word in _KEEP or not word.isalpha():
            out.append(word)
            continue
        cutoff = 1 if len(word) < 8 else 2
        found = process.extractOne(word, vocabulary, scorer=Levenshtein.distance, score_cutoff=cutoff)
        if found is not None:
            out.append(found[0])
            corrections.append((word, found[0]))
        else:
            out.append(word)
    return out, corrections


def _has(text: str, phrase: str) -> bool:
    return f" {phrase} " in text


def _amount(whole: str, cents: str | None, thousands: bool) -> Decimal | None:
    try:
        value = Decimal(re.sub(r"[  .]", "", whole) + "." + (cents or "0"))
    except InvalidOperation:
        return None
    return value * 1000 if thousands else value


def _dates(text: str, today: date | None) -> list[date]:
    found = []
    for day_, month_, year_ in _DATE_NUMERIC.findall(text):
        found.append((int(day_), int(month_), year_))
    for day_, month_name, year_ in _DATE_WORDS.findall(text):
        found.append((int(day_), _MONTHS[month_name], year_))
    result = []
    for day_, month_, year_ in found:
        year = int(year_) if year_ else (today.year if today else None)
        if year is None:
            continue
        if year < 100:
            year += 2000
        try:
            result.append(date(year, month_, day_))
        except ValueError:
            continue
    return result


def read(question: str, today: date | None = None) -> Reading:
    """Read one question (already checked for length and emptiness by the caller)."""
    folded = fold(question)
    # Apostrophes and punctuation become spaces for the cue words; codes are read from the folded text itself.
    plain = re.sub(r"[^\w€/.-]+", " ", folded)
    words = [w.strip(".") for w in plain.split()]
    corrected_words, corrections = _correct(words)
    text = " " + " ".join(w for w in corrected_words if w) + " "
    wordy = " " + re.sub(r"[-_/.]", " ", text) + " "

    intents = tuple(intent for intent in INTENT_ORDER if any(_has(wordy, cue) for cue in CUES[intent]))
    statuses: set[Status] = set()
    for phrase, codes in STATUS_WORDS.items():
        if _has(wordy, phrase):
            statuses |= codes

    sirets = tuple(dict.fromkeys(re.sub(r"\D", "", m) for m in _SIRET.findall(folded)))
    amount_spans = []
    amounts = []
    for match in _AMOUNT.finditer(folded):
        value = _amount(match.group(1), match.group(2), match.group(0).lower().endswith("k€"))
        if value is not None:
            amounts.append(value)
            amount_spans.append(match.span())
    dates = _dates(folded, today)

    codes: list[str] = []
    for match in _CODE.finditer(folded):
        token = match.group(1)
        if re.fullmatch(r"[\d/.-]+", token) or not _DIGIT.search(token):  # a date, a number, a word: not a code
            continue
        if any(start <= match.start() < end for start, end in amount_spans):
            continue
        codes.append(token.upper())
    if not codes:
        for match in _SPACED_CODE.finditer(folded):
            letters, first, second = match.groups()
            if letters in {"le", "la", "du", "au", "de", "en", "et", "a", "un", "ma", "mon", "sa", "ce", "les",
                           "des", "aux", "sur", "par", "pour", "est", "il", "elle", "j", "je", "n", "no", "num"}:
                continue
            if any(start <= match.start() < end for start, end in amount_spans):
                continue
            codes.append("-".join(part for part in (letters, first, second) if part).upper())
    mentions_piece = bool(codes) or any(_has(wordy, w) for w in PIECE_WORDS) or bool(statuses)
    return Reading(
        question=question, text=text.strip(), intent=intents[0] if intents else None, intents=intents,
        codes=tuple(dict.fromkeys(codes)), sirets=sirets, amounts=tuple(amounts), dates=tuple(dates),
        statuses=frozenset(statuses), mentions_piece=mentions_piece,
        wants_last=any(_has(wordy, w) for w in LAST_WORDS), corrected=tuple(corrections))


# The words of a question that say how it asks, not what about: left out of the help centre's search.
FILLERS = ("comment on fait pour", "comment faire pour", "comment est ce que", "comment", "on fait pour", "on fait",
           "je veux", "je voudrais", "c est quoi", "cest quoi", "que veut dire", "ca veut dire", "veut dire",
           "qu est ce que", "quest ce que", "que signifie", "signifie", "bonjour", "svp", "s il vous plait",
           "s il te plait", "merci", "est ce que", "puis je", "peut on", "faut il", "je dois", "dois je")


def search_text(reading: Reading) -> str:
    """The question without its fillers, for the help centre's search (« comment on fait pour déposer un projet
    de décompte » → « deposer un projet de decompte »: « fait » would otherwise find « service fait »)."""
    text = f" {reading.text} "
    for filler in FILLERS:
        text = text.replace(f" {filler} ", " ")
    return " ".join(text.split())


def number_groups(number: str) -> tuple[str, ...]:
    """A piece number as runs of letters and of digits, upper case, leading zeros dropped: « pl 2026 2 », « PL-2026-002 »
    and « PL_2026_02 » are one number to a person."""
    groups = re.findall(r"[A-Za-z]+|\d+", number.upper())
    return tuple(g.lstrip("0") or "0" if g.isdigit() else g for g in groups)


def compact(number: str) -> str:
    """Letters and digits only, upper case (« pl2026002 » and « PL-2026-002 » meet)."""
    return re.sub(r"[^A-Za-z0-9]", "", number).upper()


def same_number(typed: str, number: str) -> bool:
    return number_groups(typed) == number_groups(number) or compact(typed) == compact(number)
