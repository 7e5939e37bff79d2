"""Downloaded file names keep their accents (issue 15): « projet-de-décompte-… », never « projet-de-d-compte-… »,
and the download says so the way every browser reads (RFC 6266 `filename*`, an ASCII fallback beside it)."""
from __future__ import annotations

import io
import re
from pathlib import Path

from flask import Flask, send_file

from chorus_chain.operations.documents import file_name_part


def test_names_keep_their_accents_and_lose_what_a_file_system_refuses():
    assert file_name_part("projet de décompte mensuel") == "projet-de-décompte-mensuel"
    assert file_name_part("État d'acompte n° 3") == "État-d-acompte-n-3"
    assert file_name_part("../../etc/passwd") == "etc-passwd"
    assert file_name_part("a/b\\\\c:d*e?f") == "a-b-c-d-e-f"
    assert file_name_part("") == "document"


def test_the_download_header_carries_the_accented_name():
    app = Flask(__name__)
    with app.test_request_context():
        response = send_file(io.BytesIO(b"%PDF"), mimetype="application/pdf", as_attachment=True,
                             download_name=file_name_part("projet de décompte") + "-PL-1.pdf")
    header = response.headers["Content-Disposition"]
    assert "filename*=UTF-8''projet-de-d%C3%A9compte-PL-1.pdf" in header
    assert 'filename="projet-de-decompte-PL-1.pdf"' in header or "filename=projet-de-decompte-PL-1.pdf" in header


# The French words of a file name, as the code must write them (issue 15: « etat-acompte-3.pdf », « marche-1.json »
# and « tresorerie-….csv » were typed without their accents where the name is built, not where it is cleaned).
FOLDED = {"etat": "état", "decompte": "décompte", "marche": "marché", "tresorerie": "trésorerie",
          "general": "général", "valide": "validé", "chaine": "chaîne", "memoire": "mémoire",
          "reclamation": "réclamation", "recapitulatif": "récapitulatif", "echeancier": "échéancier",
          "interets": "intérêts"}
_NAME_LITERAL = re.compile(r"""(?P<q>["'])(?P<text>[^"'\n]*?\.(?:pdf|zip|json|csv|xlsx|svg|xml|txt))(?P=q)""")


def _name_literals():
    """Every string literal of the application that ends in a file extension, with the string literals on the line
    just above it (a name is sometimes built from a prefix computed there). URL rules (« /tresorerie.csv ») stay
    ASCII: a path, not a name."""
    root = Path(__file__).resolve().parents[2] / "chorus_chain"
    for path in sorted(root.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if _NAME_LITERAL.search(line) and "url" not in line.lower():
                for text in re.findall(r"""f?["']([^"'\n]*)["']""", lines[number - 1] + "\n" + line):
                    if not text.startswith("/"):
                        yield f"{path.relative_to(root)}:{number + 1}", text


def test_file_names_are_built_with_their_accents():
    wrong = []
    for where, text in _name_literals():
        for word in re.split(r"[^A-Za-zÀ-ÿ]+", re.sub(r"\{[^}]*\}", "-", text)):
            if word.lower() in FOLDED:
                wrong.append(f"{where}: « {text} » — {word} → {FOLDED[word.lower()]}")
    assert not wrong, "\n".join(wrong)
