"""Downloaded file names keep their accents (issue 15): « projet-de-décompte-… », never « projet-de-d-compte-… »,
and the download says so the way every browser reads (RFC 6266 `filename*`, an ASCII fallback beside it)."""
from __future__ import annotations

import io

from flask import Flask, send_file

from chorus_chain.operations.documents import _safe


def test_names_keep_their_accents_and_lose_what_a_file_system_refuses():
    assert _safe("projet de décompte mensuel") == "projet-de-décompte-mensuel"
    assert _safe("État d'acompte n° 3") == "État-d-acompte-n-3"
    assert _safe("../../etc/passwd") == "etc-passwd"
    assert _safe("a/b\\\\c:d*e?f") == "a-b-c-d-e-f"
    assert _safe("") == "document"


def test_the_download_header_carries_the_accented_name():
    app = Flask(__name__)
    with app.test_request_context():
        response = send_file(io.BytesIO(b"%PDF"), mimetype="application/pdf", as_attachment=True,
                             download_name=_safe("projet de décompte") + "-PL-1.pdf")
    header = response.headers["Content-Disposition"]
    assert "filename*=UTF-8''projet-de-d%C3%A9compte-PL-1.pdf" in header
    assert 'filename="projet-de-decompte-PL-1.pdf"' in header or "filename=projet-de-decompte-PL-1.pdf" in header
