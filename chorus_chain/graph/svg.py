"""The chain of a marché drawn as an SVG picture, on the server, from `graph.to_tree()`. Pure: no Flask.

Layout: the public side (MOA, MOE, paying office) as a row of boxes on top; below, the companies as an indented
tree (the holder, then each company under its contractor, one row each), so that 20 or 50 parties stay readable
at any width: the picture grows downwards, never sideways. Each box shows the name, the role and rang, the amount,
and the "paiement direct" / "autoliquidation" flags; an optional note per party (an invitation waiting, a DC4
pending) and an optional link per party. Every text is escaped; no script, no style attribute (the pages' CSP
forbids inline styles: presentation attributes only).
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal
from html import escape
from typing import Any

from chorus_chain.graph.chain import ROLE_LABELS, Role, format_euros

WIDTH = 960
MARGIN = 16
PUBLIC_BOX_H = 64
BOX_H = 64
ROW_GAP = 12
INDENT = 36
HEADER_H = 30
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Liberation Sans', sans-serif"
# Rough advance widths (px) used to fit texts into their boxes.
CHAR_W_NAME = 8.4  # 14 px bold
CHAR_W_TEXT = 7.0  # 12.5 px
CHAR_W_BADGE = 6.6  # 11.5 px

INK, MUTED, LINE, ACCENT = "#1d2433", "#5b6475", "#aab2c0", "#1f4fa3"
FILL_PUBLIC, FILL_COMPANY, FILL_OWN = "#eef1f6", "#ffffff", "#eaf0fb"
BADGES = {"paiement_direct": ("paiement direct", "#1b7a43"), "autoliquidation": ("autoliquidation", "#9a5b00")}


def _e(text: Any) -> str:
    return escape(str(text), quote=True)


def _fit(text: str, width: float, char_w: float) -> str:
    """Cut a text to the room it has, with an ellipsis (the whole text stays in the box's tooltip)."""
    room = max(4, int(width / char_w))
    return text if len(text) <= room else text[: room - 1].rstrip() + "…"


def _role_line(node: Mapping[str, Any]) -> str:
    label = ROLE_LABELS[node["role"]]
    parts = [label[:1].upper() + label[1:]]
    if node.get("rang"):
        parts.append(f"rang {node['rang']}")
    amount: Decimal | None = node.get("montant_ttc")
    if node["role"] == Role.SOUS_TRAITANT and amount is not None:
        parts.append(f"DC4 {format_euros(amount)} TTC")
    elif node["role"] in (Role.MANDATAIRE, Role.COTRAITANT, Role.TITULAIRE) and amount is not None:
        parts.append(f"part {format_euros(amount)} TTC")
    elif node["role"] == Role.TITULAIRE:
        parts.append("totalité du marché")
    return " · ".join(parts)


def _badges(node: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [BADGES[flag] for flag in ("paiement_direct", "autoliquidation") if node.get(flag)]


def _box(node: Mapping[str, Any], x: float, y: float, w: float, h: float, *, fill: str, own: bool,
         note: str | None, link: str | None) -> str:
    badges = _badges(node)
    badge_widths = [len(text) * CHAR_W_BADGE + 14 for text, _ in badges]
    badges_w = sum(badge_widths) + 6 * len(badges)
    name = str(node["name"])
    role_line = _role_line(node)
    tooltip = " — ".join([name, f"SIRET {node['siret']}", role_line, *[t for t, _ in badges],
                           *([note] if note else [])])
    out = [f'<g class="party" data-key="{_e(node["key"])}">', f"<title>{_e(tooltip)}</title>"]
    out.append(f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" rx="7" fill="{fill}" '
               f'stroke="{ACCENT if own else LINE}" stroke-width="{3 if own else 1.2}"/>')
    text_x = x + 12
    out.append(f'<text x="{text_x:.0f}" y="{y + 22:.0f}" font-size="14" font-weight="700" fill="{INK}">'
               f"{_e(_fit(name, w - 24 - badges_w, CHAR_W_NAME))}</text>")
    out.append(f'<text x="{text_x:.0f}" y="{y + 40:.0f}" font-size="12.5" fill="{INK}">'
               f"{_e(_fit(role_line, w - 24, CHAR_W_TEXT))}</text>")
    if note:
        out.append(f'<text x="{text_x:.0f}" y="{y + 56:.0f}" font-size="11.5" font-style="italic" fill="{MUTED}">'
                   f"{_e(_fit(note, w - 24, CHAR_W_BADGE))}</text>")
    bx = x + w - 8
    for (text, color), bw in zip(badges, badge_widths, strict=True):
        bx -= bw
        out.append(f'<rect x="{bx:.0f}" y="{y + 8:.0f}" width="{bw:.0f}" height="18" rx="9" fill="#ffffff" '
                   f'stroke="{color}"/>')
        out.append(f'<text x="{bx + bw / 2:.0f}" y="{y + 21:.0f}" font-size="11.5" text-anchor="middle" '
                   f'fill="{color}">{_e(text)}</text>')
        bx -= 6
    out.append("</g>")
    body = "".join(out)
    if link:
        return f'<a href="{_e(link)}">{body}</a>'
    return body


def _company_rows(nodes: list[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], int, int | None]]:
    """The companies in drawing order (depth first): (node, depth, index of its contractor in this list)."""
    rows: list[tuple[Mapping[str, Any], int, int | None]] = []

    def walk(node: Mapping[str, Any], depth: int, parent_index: int | None) -> None:
        index = len(rows)
        rows.append((node, depth, parent_index))
        for child in node.get("children", []):
            walk(child, depth + 1, index)

    for node in nodes:
        walk(node, 0, None)
    return rows


def chain_svg(tree: Mapping[str, list[Mapping[str, Any]]], *, notes: Mapping[int, str] | None = None,
              highlight: Collection[int] = (), links: Mapping[int, str] | None = None,
              title: str = "Chaîne du marché") -> str:
    """The SVG document (a string) of a chain tree as returned by `graph.to_tree` (possibly pruned to a branch).

    `notes` adds a short line to a party's box, `highlight` frames the viewer's own parties, `links` makes a box a
    link (party key → URL)."""
    notes, links = notes or {}, links or {}
    public = list(tree.get("public", []))
    companies = _company_rows(list(tree.get("contractors", [])))
    parts: list[str] = []
    y = MARGIN

    parts.append(f'<text x="{MARGIN}" y="{y + 18}" font-size="15" font-weight="700" fill="{MUTED}">'
                 "Acheteur public</text>")
    y += HEADER_H
    if public:
        per_row = 3
        gap = 12
        box_w = (WIDTH - 2 * MARGIN - gap * (per_row - 1)) / per_row
        for i, node in enumerate(public):
            col, line = i % per_row, i // per_row
            x = MARGIN + col * (box_w + gap)
            top = y + line * (PUBLIC_BOX_H + ROW_GAP)
            parts.append(_box(node, x, top, box_w, PUBLIC_BOX_H, fill=FILL_OWN if node["key"] in highlight
                              else FILL_PUBLIC, own=node["key"] in highlight, note=notes.get(node["key"]),
                              link=links.get(node["key"])))
        y += ((len(public) - 1) // per_row + 1) * (PUBLIC_BOX_H + ROW_GAP)
    else:
        parts.append(f'<text x="{MARGIN}" y="{y + 16}" font-size="13" fill="{MUTED}">'
                     "Aucune partie publique visible.</text>")
        y += 28

    y += 8
    parts.append(f'<text x="{MARGIN}" y="{y + 18}" font-size="15" font-weight="700" fill="{MUTED}">'
                 "Entreprises</text>")
    y += HEADER_H
    tops: list[float] = []
    lefts: list[float] = []
    boxes: list[str] = []
    connectors: list[str] = []
    for node, depth, parent_index in companies:
        x = MARGIN + depth * INDENT
        top = y + len(tops) * (BOX_H + ROW_GAP)
        tops.append(top)
        lefts.append(x)
        if parent_index is not None:
            px = lefts[parent_index] + INDENT / 2
            py = tops[parent_index] + BOX_H
            mid = top + BOX_H / 2
            connectors.append(f'<path d="M{px:.0f} {py:.0f} V{mid:.0f} H{x:.0f}" fill="none" stroke="{LINE}" '
                              'stroke-width="1.5"/>')
        own = node["key"] in highlight
        boxes.append(_box(node, x, top, WIDTH - MARGIN - x, BOX_H, fill=FILL_OWN if own else FILL_COMPANY, own=own,
                          note=notes.get(node["key"]), link=links.get(node["key"])))
    if not companies:
        boxes.append(f'<text x="{MARGIN}" y="{y + 16}" font-size="13" fill="{MUTED}">'
                     "Aucune entreprise pour l'instant.</text>")
        y += 28
    else:
        y = tops[-1] + BOX_H
    height = int(y + MARGIN)
    summary = f"{len(public)} partie(s) publique(s), {len(companies)} entreprise(s)"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chain" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'role="img" aria-labelledby="chain-title chain-desc" font-family="{_e(FONT)}">'
        f'<title id="chain-title">{_e(title)}</title><desc id="chain-desc">{_e(summary)}</desc>'
        + "".join(parts) + "".join(connectors) + "".join(boxes) + "</svg>"
    )
