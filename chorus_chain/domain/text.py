"""What free text may hold. Text typed here is shown to the other companies of the chain, printed on their documents
and sent to Chorus Pro: an invisible control character or a bidirectional override (U+202E turns « 1000 € » into
« € 0001 » on screen, and can make a file name or an IBAN read as something else) is refused, with a French sentence.
"""
from __future__ import annotations

import unicodedata

# Bidirectional embeddings, overrides and isolates (Unicode TR9): they reorder what follows them on screen. The
# plain marks (U+200E, U+200F) and the other format characters (soft hyphen, zero-width joiner) stay allowed.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
LINE_BREAKS = frozenset("\r\n")


def is_control(char: str) -> bool:
    """A C0 or C1 control character (NUL, escape, bell, DEL...), the tab excepted."""
    return char != "\t" and unicodedata.category(char) == "Cc"


def text_problem(value: str | None, multiline: bool = False) -> str | None:
    """None when `value` may be stored and shown to others, else a French sentence saying what is wrong with it.
    Line breaks are allowed only in multi-line text (a reason, a comment), never in a name, a code or a label."""
    if not value:
        return None
    for char in value:
        if char in LINE_BREAKS:
            if not multiline:
                return "Ce champ tient sur une ligne : retirez le retour à la ligne."
        elif is_control(char):
            return (f"Ce champ contient un caractère de contrôle invisible (U+{ord(char):04X}) : "
                    "retirez-le (retapez le texte plutôt que de le coller).")
        elif char in BIDI_CONTROLS:
            return (f"Ce champ contient un caractère invisible qui inverse le sens d'affichage du texte "
                    f"(U+{ord(char):04X}) : retirez-le (retapez le texte plutôt que de le coller).")
    return None


def has_control(value: str | None, allow_line_breaks: bool = True) -> bool:
    """Any control character (NUL, escape...) in `value`; tabs always, line breaks when allowed, pass."""
    return any(is_control(char) and not (allow_line_breaks and char in LINE_BREAKS) for char in value or "")


JUSTIFICATION_MIN = 10


def justification_problem(value: str | None) -> str | None:
    """A justification is read by the MOE who decides on it: a few words that say why (« métré contradictoire du
    12 mars »), not a character typed to pass the check. None when it is absent (whether it is needed is the
    caller's rule) or long enough, else a French sentence."""
    text = " ".join((value or "").split())
    if not text:
        return None
    if len(text) < JUSTIFICATION_MIN or sum(char.isalpha() for char in text) < 3:
        return (f"La justification « {text} » est trop courte : expliquez l'écart en quelques mots "
                f"({JUSTIFICATION_MIN} caractères au moins), par exemple « métré contradictoire du 12 mars ».")
    return None
