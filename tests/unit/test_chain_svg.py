"""The server-side SVG picture of a chain (chorus_chain/graph/svg.py): pure, escaped, readable with 20 parties."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal

from chorus_chain.graph import MarcheInfo, Party, Role, build_chain, to_tree
from chorus_chain.graph.svg import BOX_H, WIDTH, chain_svg

SVG = "{http://www.w3.org/2000/svg}"
WORKS = MarcheInfo("travaux", "conjoint", "each", Decimal("1440000.00"))


def party(key, role, parent=None, montant=None, name=None, accepted=True):
    return Party(key=key, structure_id=key, siret=f"{key:014d}", name=name or f"Entreprise {key}", role=role,
                 parent_key=parent, montant_ttc=None if montant is None else Decimal(montant), accepted=accepted)


def demo_parties():
    return [
        party(1, Role.MOA, name="Commune de Montreuil-sur-Loire"),
        party(2, Role.PAYING_OFFICE, name="Service financier"),
        party(3, Role.MOE, name="Atelier Lumen"),
        party(4, Role.MANDATAIRE, montant="1008000", name="Durand Bâtiment"),
        party(5, Role.COTRAITANT, 4, "432000", name="Martin Électricité"),
        party(6, Role.SOUS_TRAITANT, 4, "96000", name="Plâtrerie Leroy"),
        party(7, Role.SOUS_TRAITANT, 5, "54000", name="Menuiserie Bernard"),
        party(8, Role.SOUS_TRAITANT, 6, "18000", name="Peinture Petit"),
        party(9, Role.SOUS_TRAITANT, 4, "480", name="Nettoyage Moreau"),
    ]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on anything that is not well-formed XML


def texts(root: ET.Element) -> list[str]:
    return ["".join(el.itertext()) for el in root.iter(f"{SVG}text")]


def company_boxes(root: ET.Element) -> list[tuple[float, float, float]]:
    """(x, y, width) of every party box (the first rect of each party group)."""
    boxes = []
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "party":
            rect = group.find(f"{SVG}rect")
            boxes.append((float(rect.get("x")), float(rect.get("y")), float(rect.get("width"))))
    return boxes


def test_demo_chain_is_drawn_with_roles_ranks_amounts_and_flags():
    svg = chain_svg(to_tree(build_chain(WORKS, demo_parties())))
    root = parse(svg)
    all_text = " | ".join(texts(root))
    for name in ("Commune de Montreuil-sur-Loire", "Durand Bâtiment", "Peinture Petit", "Nettoyage Moreau"):
        assert name in all_text
    assert "Sous-traitant · rang 2 · DC4 18\u202f000,00\u00a0€ TTC" in all_text
    assert "Mandataire · part 1\u202f008\u202f000,00\u00a0€ TTC" in all_text
    assert "Maître d'œuvre" in all_text
    # Leroy and Bernard are rang 1 ≥ 600 €: paiement direct; every works sous-traitant: autoliquidation.
    assert all_text.count("paiement direct") == 2
    assert all_text.count("autoliquidation") == 4
    assert root.get("role") == "img" and root.find(f"{SVG}title").text.startswith("Chaîne")


def test_companies_are_indented_under_their_contractor():
    root = parse(chain_svg(to_tree(build_chain(WORKS, demo_parties()))))
    boxes = company_boxes(root)
    assert len(boxes) == 9
    public, companies = boxes[:3], boxes[3:]
    assert len({y for _, y, _ in public}) == 1  # one row
    xs = [x for x, _, _ in companies]  # Durand, Martin, Bernard, Leroy, Petit, Moreau (depth first)
    assert xs[0] < xs[1] < xs[2]
    assert xs[3] == xs[1] and xs[4] == xs[2] and xs[5] == xs[1]
    assert len(root.findall(f".//{SVG}path")) == 5  # one connector per contractor → worker edge


def test_readable_with_twenty_parties_no_overlap_fixed_width():
    parties = [party(1, Role.MOA), party(2, Role.PAYING_OFFICE), party(3, Role.MOE),
               party(4, Role.MANDATAIRE, montant="1000000")]
    key = 5
    for _ in range(4):  # 4 co-traitants, each with 3 sous-traitants, one of them with a rang 2
        cotraitant = key
        parties.append(party(key, Role.COTRAITANT, 4, "50000"))
        key += 1
        for i in range(3):
            parties.append(party(key, Role.SOUS_TRAITANT, cotraitant, "1000"))
            key += 1
    parties.append(party(key, Role.SOUS_TRAITANT, key - 1, "500"))
    assert len(parties) >= 20
    svg = chain_svg(to_tree(build_chain(WORKS, parties)))
    root = parse(svg)
    boxes = company_boxes(root)
    assert len(boxes) == len(parties)
    company_ys = sorted(y for _, y, _ in boxes[3:])
    assert all(b - a >= BOX_H for a, b in zip(company_ys, company_ys[1:]))  # one row each, never overlapping
    assert root.get("viewBox").split()[2] == str(WIDTH)  # grows downwards, never sideways
    assert all(x + w <= WIDTH for x, _, w in boxes)
    assert int(root.get("viewBox").split()[3]) > company_ys[-1] + BOX_H


def test_every_text_is_escaped():
    nasty = 'Dupont & Fils <script>alert("x")</script> \'SARL\''
    parties = [party(1, Role.MOA, name="Mairie <b>"), party(2, Role.TITULAIRE, name=nasty)]
    info = MarcheInfo("services", "none", "each", Decimal("1000.00"))
    svg = chain_svg(to_tree(build_chain(info, parties)), notes={2: "note <i>&"}, links={2: '/x?a=1&b="2"'},
                    title="Marché <A&B>")
    assert "<script" not in svg and "<b>" not in svg and "<i>" not in svg
    root = parse(svg)
    assert any(nasty in (el.text or "") for el in root.iter(f"{SVG}title"))  # full name in the tooltip
    assert root.find(f"{SVG}title").text == "Marché <A&B>"
    link = root.find(f".//{SVG}a")
    assert link.get("href") == '/x?a=1&b="2"'


def test_long_names_are_cut_with_an_ellipsis_but_kept_in_the_tooltip():
    long_name = "Société Anonyme de Construction et de Rénovation des Bâtiments Publics du Grand Ouest " * 2
    info = MarcheInfo("services", "none", "each", Decimal("1000.00"))
    root = parse(chain_svg(to_tree(build_chain(info, [party(1, Role.TITULAIRE, name=long_name.strip())]))))
    shown = [t for t in texts(root) if t.startswith("Société")]
    assert shown and shown[0].endswith("…") and len(shown[0]) < len(long_name.strip())
    assert any(long_name.strip() in (el.text or "") for el in root.iter(f"{SVG}title"))


def test_notes_highlight_and_no_inline_style():
    svg = chain_svg(to_tree(build_chain(WORKS, demo_parties())), notes={6: "DC4 en attente"}, highlight={4})
    assert "DC4 en attente" in svg
    assert 'stroke-width="3"' in svg  # the viewer's own box is framed
    assert not re.search(r"\sstyle=", svg) and "<style" not in svg and "<script" not in svg  # CSP: no inline style


def test_empty_tree():
    root = parse(chain_svg({"public": [], "contractors": []}))
    assert "Aucune entreprise pour l'instant." in texts(root)
