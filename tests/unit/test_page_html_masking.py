"""`bench/page_html.py` compares pages from two trees with what changes from request to request masked: the CSRF
tokens wherever a page carries them (the layout's meta tag, a form's `csrf_token`, a listed action's
`p<id>-<action>-csrf_token`) and the help tips' ids; nothing else."""
from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "page_html.py"


def _bench():
    spec = importlib.util.spec_from_file_location("page_html_bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def _fragment(token: str, amount: str = "1 000,00") -> str:
    """The Synthèse's HTMX fragment as the listed actions write it: no meta tag, one token field per row's action."""
    return (f'<form method="post"><input id="p12-valider-csrf_token" name="p12-valider-csrf_token" type="hidden" '
            f'value="{token}"><button>Valider</button></form>\n'
            f'<form method="post"><input id="p13-refuser_partiel-csrf_token" name="p13-refuser_partiel-csrf_token" '
            f'type="hidden" value="{token}"><span>{amount} €</span></form>')


def test_the_listed_actions_tokens_are_masked():
    masked = _bench().masked
    first, second = "IjdkZjQ1.aZx-9_q.Tb1", "ImE3Yzk4.bQ2-7_r.Uc0"
    assert masked(_fragment(first)) == masked(_fragment(second))
    assert first not in masked(_fragment(first)) and masked(_fragment(first)).count('value="CSRF"') == 2
    assert masked(_fragment(first)) != masked(_fragment(second, amount="2 000,00"))  # the rest still counts


def test_the_pages_tokens_and_tips_are_masked_as_before():
    masked = _bench().masked
    page = ('<meta name="csrf-token" content="{t}"><form><input id="csrf_token" name="csrf_token" type="hidden" '
            'value="{t}"></form><span data-token="{t}"></span><button aria-describedby="aide-statut-{n}">?</button>'
            '<p id="aide-statut-{n}">Aide</p><p id="aide-statut-{m}">Aide</p>')
    one = masked(page.format(t="Ij1.a-b", n=41, m=7))
    assert one == masked(page.format(t="Ij2.c-d", n=3, m=99))
    assert "Ij1.a-b" not in one and 'aria-describedby="tip-1"' in one and 'id="tip-2"' in one
    assert one != masked(page.format(t="Ij2.c-d", n=3, m=3))  # two tips become one: the pairing counts
    assert masked('<input name="csrf_token_x" value="kept">') == '<input name="csrf_token_x" value="kept">'
