"""No raw code ever reaches a reader (issue 15): every page of the demo, as every demo company sees it, read for the
words a person sees — never a status code (MISE_EN_PAIEMENT, A_VALIDER_1, BROUILLON as a code…), never an
identifier with an underscore. The crawl follows each page's links within the structure (GET pages only, no
downloads), so a new page is walked without being listed here."""
from __future__ import annotations

import html
import re
from collections import deque

from chorus_chain import demo
from chorus_chain.domain.statuses import Status
from tests.integration.test_marches_visibility import client_for, demo_world  # noqa: F401  (fixture)

PAGES_PER_COMPANY = 70
SKIP = re.compile(r"\.(pdf|zip|json|svg|csv|xlsx|xml|png)$|/fichiers/|/documents/\d+|/export|/telecharger|"
                  r"/deconnexion|/aide/")
CODE = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b")  # an identifier: MISE_EN_PAIEMENT, A_VALIDER_1
STATUS_CODES = {s.value for s in Status if "_" not in s.value and len(s.value) >= 6}  # BROUILLON, DEPOSEE…


def visible_text(page: str) -> str:
    """What a reader sees: no script, style, tag or attribute (a status code in data-* or a class is fine)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    page = re.sub(r"<!--.*?-->", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_no_page_of_the_demo_shows_a_raw_code(app, demo_world):
    found = {}
    walked = 0
    for company in demo.COMPANIES:
        client, base = client_for(app, company.key)
        home = base.removesuffix("/marches")
        queue, seen = deque([f"{home}/synthese", f"{home}/tableau-de-bord", f"{home}/pieces/"]), set()
        while queue and len(seen) < PAGES_PER_COMPANY:
            url = queue.popleft()
            if url in seen or SKIP.search(url):
                continue
            seen.add(url)
            response = client.get(url)
            if response.status_code != 200 or response.mimetype != "text/html":
                continue
            page = response.get_data(as_text=True)
            text = visible_text(page)
            codes = set(CODE.findall(text)) | {w for w in re.findall(r"\b[A-Z]{6,}\b", text) if w in STATUS_CODES}
            if codes:
                found[f"{company.key} {url}"] = sorted(codes)
            for link in re.findall(r'href="(/s/\d{14}/[^"#?]*)', page):
                if link.startswith(home) and link not in seen:
                    queue.append(link)
        walked += len(seen)
    assert walked > 100  # the crawl really walked the demo
    assert not found, found
