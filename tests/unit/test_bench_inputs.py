"""The benchmark's état d'acompte is a real one: computed by the engine, laid out from its frozen result."""
from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "pdf_render.py"


def test_the_benchmarked_etat_is_the_engines():
    spec = importlib.util.spec_from_file_location("pdf_render_bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    doc = bench.etat_document()
    assert doc.number == 3 and not doc.final
    assert [b.name for b in doc.beneficiaries] == ["Durand Bâtiment SAS", "Plâtrerie Leroy",
                                                   "Martin Électricité SARL", "Menuiserie Bernard"]
    assert doc.corrections and doc.corrections[0].difference < 0  # the MOE admitted less than claimed
    html = bench.etat_doc.etat_acompte_html(doc)
    assert "Plâtrerie Leroy" in html and "Menuiserie Bernard" in html
