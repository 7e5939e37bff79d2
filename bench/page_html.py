"""Same HTML? The dashboards' pages as the four busy accounts of the benchmark see them, written to a directory with
what changes from request to request masked, and two such directories compared.

A change meant to make a page cheaper must leave its HTML as it was; this dumps the pages of one tree (the tree this
script is run from: `bench/page_html.py` imports the application beside it), so that the same command run from two
trees at the same moment — main's worktree and a branch's — gives two directories to `--compare`:

    /work/main/.venv/bin/python /work/main/bench/page_html.py --database chorus_bench_100k --out /tmp/a
    .venv/bin/python bench/page_html.py --database chorus_bench_100k --out /tmp/b --compare /tmp/a

Masked: the CSRF tokens (one per session and request, wherever a field named `csrf_token` or `<prefix>-csrf_token`
or the layout's meta tag carries one) and the help badges' tip ids (`help_ui` numbers them through
the process: the n-th id of a page is written `tip-n`, so their order and pairing still count). Everything else
must be equal byte for byte; `--compare` prints the first differing lines of each page that differs and exits 1.
The database is read as it is (`page_cpu.make_app`, `--as-is`): it is neither migrated nor written.
"""
from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import dashboards as bench  # noqa: E402
import dashboards_seed as seeding  # noqa: E402
import page_cpu  # noqa: E402

# name → (path, HTMX request?): the Tableau de bord whole, filtered, sorted, a later page, as its HTMX fragment, its
# notifications' fragment, and the Synthèse (page and list). {siret}: the account's structure.
PAGES = {
    "tableau_de_bord": ("/s/{siret}/tableau-de-bord", False),
    "tdb_filtre": ("/s/{siret}/tableau-de-bord?status=deposee&tri=montant", False),
    "tdb_tri_statut": ("/s/{siret}/tableau-de-bord?tri=-statut", False),
    # A status on each sort (`dashboard.page_read`: the index (structure, status, sort column, piece), migration
    # 0041), both ways, and later pages by the « suivant » link; a period (its count read in the date's order).
    **{f"tdb_statut_{key.replace('-', 'desc_')}": (f"/s/{{siret}}/tableau-de-bord?status=A_VALIDER_1&tri={key}", False)
       for key in ("montant", "-montant", "numero", "-numero", "marche", "-marche", "statut")},
    "tdb_statut_montant_p3": ("/s/{siret}/tableau-de-bord?status=A_VALIDER_1&tri=montant", True),
    "tdb_statut_desc_numero_p3": ("/s/{siret}/tableau-de-bord?status=A_VALIDER_1&tri=-numero", True),
    # The amount sort's later pages, both ways (its cursor in cents since migration 0043).
    "tdb_tri_montant_p3": ("/s/{siret}/tableau-de-bord?tri=montant", True),
    "tdb_tri_desc_montant_p3": ("/s/{siret}/tableau-de-bord?tri=-montant", True),
    "tdb_periode": ("/s/{siret}/tableau-de-bord?du=2026-08-01&au=2026-09-30", False),
    "tdb_htmx": ("/s/{siret}/tableau-de-bord?tri=-date", True),
    "tdb_htmx_p3": ("/s/{siret}/tableau-de-bord?tri=-date", True),
    "notifications": ("/s/{siret}/tableau-de-bord/notifications", True),
    "entreprises": ("/s/{siret}/tableau-de-bord/entreprises", False),
    "synthese": ("/s/{siret}/synthese", False),
    "synthese_htmx": ("/s/{siret}/synthese?page=2", True),
}
DEEP = {"tdb_htmx_p3": 2, "tdb_statut_montant_p3": 2, "tdb_statut_desc_numero_p3": 2, "tdb_tri_montant_p3": 2,
        "tdb_tri_desc_montant_p3": 2}

# Where a page carries its CSRF token(s); every occurrence of a token found so is masked, wherever else it appears.
# A listed action's form names its token after its prefix (`p<id>-<action>-csrf_token`, pieces.forms): the
# Synthèse's HTMX fragment has no other token (no meta tag), so those fields must be read too.
_CSRF = re.compile(r'name="(?:[\w-]+-)?csrf_token"[^>]*\bvalue="([^"]+)"|id="csrf-token"[^>]*\bvalue="([^"]+)"|'
                   r'name="csrf-token"[^>]*\bcontent="([^"]+)"')
_TIP = re.compile(r'\baide-[a-z]+-\d+\b')


def masked(text: str) -> str:
    """The page with its CSRF tokens written `CSRF` and its tips' ids numbered from 1 in the page's order."""
    for token in {t for m in _CSRF.finditer(text) for t in m.groups() if t}:
        text = text.replace(token, "CSRF")
    numbers: dict[str, int] = {}
    return _TIP.sub(lambda m: f"tip-{numbers.setdefault(m.group(0), len(numbers) + 1)}", text)


def dump(database: str, out: Path, pages: list[str]) -> None:
    app = page_cpu.make_app(database)
    sirets = bench._sirets(database)
    out.mkdir(parents=True, exist_ok=True)
    for key, email in seeding.BENCH_LOGINS.items():
        if email not in sirets:
            continue
        client = page_cpu.login(app, email)
        for name in pages:
            path, htmx = PAGES[name]
            url = path.format(siret=sirets[email])
            if name in DEEP:
                url = page_cpu.follow_next(client, url, DEEP[name], htmx)
            answer = client.get(url, headers={"HX-Request": "true"} if htmx else {})
            body = masked(answer.get_data(as_text=True))
            (out / f"{key}.{name}.html").write_text(f"<!-- {answer.status_code} {url} -->\n{body}")
    print(f"{out}: {len(list(out.glob('*.html')))} pages")


def compare(left: Path, right: Path) -> int:
    """The number of pages that differ (a page missing on one side counts)."""
    differing = 0
    names = sorted({p.name for p in left.glob("*.html")} | {p.name for p in right.glob("*.html")})
    for name in names:
        a, b = left / name, right / name
        if not a.exists() or not b.exists():
            print(f"{name}: only in {a.parent if a.exists() else b.parent}")
            differing += 1
            continue
        ta, tb = a.read_text(), b.read_text()
        if ta == tb:
            continue
        differing += 1
        diff = list(difflib.unified_diff(ta.splitlines(), tb.splitlines(), str(a), str(b), n=0, lineterm=""))
        print(f"{name}: {len(ta)} → {len(tb)} characters, {sum(1 for d in diff if d[:1] in '+-') - 2} lines differ")
        for line in diff[2:14]:
            print(f"    {line[:240]}")
    print(f"{len(names) - differing} of {len(names)} pages identical")
    return differing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database", default="chorus_bench_100k")
    parser.add_argument("--out", type=Path, help="write the masked pages here")
    parser.add_argument("--compare", type=Path, help="compare --out (or --against) with this directory")
    parser.add_argument("--against", type=Path, help="with --compare and no --out: the directory compared")
    parser.add_argument("--pages", nargs="*", choices=sorted(PAGES), default=list(PAGES))
    args = parser.parse_args(argv)
    if args.out:
        dump(args.database, args.out, args.pages)
    if args.compare:
        return 1 if compare(args.compare, args.out or args.against) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
