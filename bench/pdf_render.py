"""Benchmark: what our PDF layer costs on top of WeasyPrint, on a real état d'acompte (default) or an invoice.

Three ways of producing the same PDF, timed side by side in the same process, in rotating order (A B C, B C A,
C A B, …) so that a warming cache or a noisy neighbour weighs on all of them alike, with a garbage collection before
each timing (WeasyPrint leaves cyclic garbage: without it, whoever comes next pays for the previous rendering —
a 5 % bias on the contender in the middle, measured while writing this):
- `weasyprint`  WeasyPrint alone: `HTML(string=html, base_url=static).write_pdf()` on the HTML our templates made;
- `render_pdf`  the same HTML through `documents.render.render_pdf` (locked fetcher, per-render refusal check);
- `full`        the document function (`etat_doc.etat_acompte_pdf(doc)`, or `templates.invoice_pdf(doc)` with
                `--document invoice`): templates + fingerprint + render_pdf, what a PDF job does.
The état d'acompte is the engine's own: état n° 3 of a groupement conjoint of four beneficiaries (two sous-traitants in
paiement direct), revised on the real BT01 index, computed by `domain.money.compute_etat_acompte` and laid out from
its frozen result exactly as an issued état is (`etat_doc.etat_from_result`).
Each timing is one complete rendering; medians are reported with the ratios to WeasyPrint alone, then what our layer
adds is timed on its own (building the per-render fetcher, the Jinja templates, the fingerprint): on a shared
machine a few per cent between the first two lines can be noise, the component timings say how much is not.

This is a benchmark, not a test: nothing asserts on the figures. Run it from the repository root:

    .venv/bin/python bench/pdf_render.py                 # 30 rounds, the état d'acompte
    .venv/bin/python bench/pdf_render.py --document invoice --lines 45   # an invoice of 45 lines (3 pages)
    .venv/bin/python bench/pdf_render.py --runs 50 --lines 90 --json bench/results/pdf_render.json
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import platform
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pypdf  # noqa: E402
import weasyprint  # noqa: E402

from chorus_chain.documents import etat_doc, samples, templates  # noqa: E402
from chorus_chain.documents.fingerprint import fingerprint  # noqa: E402
from chorus_chain.documents.render import STATIC_BASE_URL, default_fetcher, render_pdf  # noqa: E402


def _timed(action: Callable[[], bytes]) -> tuple[float, bytes]:
    gc.collect()
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def _best(action: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(action, number=number, repeat=5)) / number


def etat_document() -> etat_doc.EtatAcompteDoc:
    """État n° 3 of a 1 200 000 € HT groupement conjoint, computed by the engine as the MOE's page does."""
    from datetime import date
    from decimal import Decimal as D

    from chorus_chain.domain import money

    index = money.load_index_csv(Path(__file__).resolve().parents[1] / "chorus_chain" / "data" / "bt01_index.csv")
    terms = money.MarcheTerms(montant_ht=D("1200000.00"), tva_rate=D("0.20"), duration_months=12,
                              groupement="conjoint",
                              revision=money.RevisionTerms(a=D("0.125"), index="BT01", base_month="2025-01"))
    beneficiaries = (
        money.Beneficiary(1, "Durand Bâtiment SAS", "mandataire", D("744000.00")),
        money.Beneficiary(2, "Plâtrerie Leroy", "sous_traitant", D("96000.00"), contractor_key=1,
                          paiement_direct=True, autoliquidation=True, dc4_ceiling_ttc=D("96000.00")),
        money.Beneficiary(3, "Martin Électricité SARL", "cotraitant", D("306000.00")),
        money.Beneficiary(4, "Menuiserie Bernard", "sous_traitant", D("54000.00"), contractor_key=3,
                          paiement_direct=True, autoliquidation=True, dc4_ceiling_ttc=D("54000.00")),
    )
    cumuls = (("2025-03", "120000", "0", "20000", "0"), ("2025-04", "260000", "14000", "52000", "6000"),
              ("2025-05", "410000", "30000", "95000", "12000"))
    previous = None
    for number, (month, *amounts) in enumerate(cumuls, start=1):
        parts = tuple(money.PartDecompte(key, travaux=D(value)) for key, value in zip((1, 2, 3, 4), amounts))
        claimed = (money.PartDecompte(1, travaux=D("420000")),) if number == 3 else ()
        previous = money.compute_etat_acompte(terms, beneficiaries, money.DecompteMensuel(
            number, month, parts, claimed=claimed), previous, index)
    return etat_doc.etat_from_result(previous.to_dict(), marche_reference="DEMO-TRAVAUX-2026",
                                     marche_objet="Réhabilitation et extension du groupe scolaire",
                                     issuer=samples.MOE, issued_on=date(2025, 6, 6))


def run(runs: int, lines: int, document: str = "etat") -> dict[str, object]:
    if document == "etat":
        doc = etat_document()
        html = etat_doc.etat_acompte_html(doc)
        produce, build_html = etat_doc.etat_acompte_pdf, etat_doc.etat_acompte_html
    else:
        doc = samples.etat_like_invoice(lines)
        html = templates.invoice_html(doc)
        produce, build_html = templates.invoice_pdf, templates.invoice_html
    contenders: dict[str, Callable[[], bytes]] = {
        "weasyprint": lambda: weasyprint.HTML(string=html, base_url=STATIC_BASE_URL).write_pdf(),
        "render_pdf": lambda: render_pdf(html),
        "full": lambda: produce(doc),
    }
    for action in contenders.values():  # warm-up: imports, fonts, fontconfig cache, Jinja's compiled templates
        action()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    last = b""
    for round_ in range(runs):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            elapsed, last = _timed(contenders[name])
            times[name].append(elapsed)
    pages = len(pypdf.PdfReader(io.BytesIO(last)).pages)
    components = {  # what our layer adds, timed alone (best of 5 repeats)
        "fetcher_setup": _best(lambda: default_fetcher().for_one_render(), 200),
        "templates": _best(lambda: build_html(doc), 20),
        "fingerprint": _best(lambda: fingerprint(doc), 100),
    }
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        "document": document,
        "runs": runs,
        "lines": lines if document == "invoice" else None,
        "pages": pages,
        "html_bytes": len(html.encode()),
        "pdf_bytes": len(last),
        "median_s": medians,
        "min_s": {name: min(values) for name, values in times.items()},
        "ratio_to_weasyprint": {name: medians[name] / medians["weasyprint"] for name in medians},
        "per_page_s": {name: medians[name] / pages for name in medians},
        "components_s": components,
        "python": platform.python_version(),
        "weasyprint": weasyprint.__version__,
        "cpu_count": os.cpu_count(),
    }


def _document_label(result: dict[str, object]) -> str:
    if result["document"] == "etat":
        return "État d'acompte n° 3 computed by the engine (4 beneficiaries, revision, a correction)"
    return f"Invoice of {result['lines']} lines"


def report(result: dict[str, object]) -> str:
    medians = result["median_s"]
    ratios = result["ratio_to_weasyprint"]
    lines = [
        f"{_document_label(result)}: {result['pages']} pages, "
        f"{result['html_bytes']} bytes of HTML, {result['pdf_bytes']} bytes of PDF; {result['runs']} rounds, "
        f"WeasyPrint {result['weasyprint']}, Python {result['python']}, {result['cpu_count']} CPUs",
        f"{'':12} {'median':>10} {'min':>10} {'per page':>10} {'ratio':>7}",
    ]
    for name in medians:
        lines.append(f"{name:12} {medians[name] * 1000:8.1f} ms {result['min_s'][name] * 1000:8.1f} ms "
                     f"{result['per_page_s'][name] * 1000:8.1f} ms {ratios[name]:6.3f}×")
    parts = result["components_s"]
    lines.append("our layer alone: " + ", ".join(f"{name} {seconds * 1000:.2f} ms" for name, seconds in parts.items()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=30, help="rounds (each renders every contender once)")
    parser.add_argument("--document", choices=("etat", "invoice"), default="etat",
                        help="the état d'acompte computed by the engine (default) or an invoice of --lines lines")
    parser.add_argument("--lines", type=int, default=45, help="lines of the invoice (45 ≈ 3 A4 pages)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    result = run(args.runs, args.lines, args.document)
    print(report(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
