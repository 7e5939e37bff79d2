"""The SVG charts: well-formed, accessible, escaped, proportional, an overrun clipped but still written out."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from chorus_chain import charts

D = Decimal
NS = "{http://www.w3.org/2000/svg}"


def fmt(value: Decimal) -> str:
    return f"{value:.2f} €"


def _bars(svg: str) -> list[ET.Element]:
    return [r for r in ET.fromstring(svg).iter(f"{NS}rect") if r.find(f"{NS}title") is not None]


def test_segments_are_shares_of_the_total():
    svg = charts.progress_bars([charts.Bar("Durand", D("1000"), (
        charts.Segment("payé", D("250"), "#000"), charts.Segment("certifié", D("250"), "#111")))],
        fmt=fmt, title="Paiements")
    paid, certified = _bars(svg)
    track_width = float(ET.fromstring(svg).findall(f"{NS}rect")[0].get("width"))
    assert float(paid.get("width")) == track_width / 4
    assert float(certified.get("x")) == float(paid.get("x")) + float(paid.get("width"))
    root = ET.fromstring(svg)
    assert root.get("role") == "img" and root.find(f"{NS}title").text == "Paiements"
    assert "Durand : payé 250.00 €, certifié 250.00 € sur 1000.00 €" in root.find(f"{NS}desc").text


def test_an_overrun_is_clipped_to_the_bar_but_its_figure_is_written():
    svg = charts.progress_bars([charts.Bar("X", D("100"), (charts.Segment("payé", D("180"), "#000"),))],
                               fmt=fmt, title="t")
    (bar,) = _bars(svg)
    track = ET.fromstring(svg).findall(f"{NS}rect")[0]
    assert float(bar.get("width")) == float(track.get("width"))
    assert "180.00 €" in svg


def test_names_are_escaped():
    svg = charts.progress_bars([charts.Bar('<script>alert("x")</script>', D("1"), ())], fmt=fmt, title="<b>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ET.fromstring(svg)  # still well-formed


def test_curve_points_and_ceiling():
    svg = charts.cumulative_curve(["janv.", "févr.", "mars"], [
        charts.Series("Exécuté", (D("0"), D("50"), D("100")), "#000")], fmt=fmt, title="Cumul", ceiling=D("200"),
        ceiling_label="montant du marché")
    root = ET.fromstring(svg)
    points = [tuple(map(float, p.split(","))) for p in root.find(f"{NS}polyline").get("points").split()]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    assert xs == sorted(xs) and ys[0] > ys[1] > ys[2]  # rising curve (SVG y grows downwards)
    # 100 is half of the ceiling 200: the last point sits halfway up the plot.
    dashed = [line for line in root.iter(f"{NS}line") if line.get("stroke-dasharray")]
    assert len(dashed) == 1
    zero_y = ys[0]
    assert abs((zero_y - ys[2]) - (zero_y - float(dashed[0].get("y1"))) / 2) < 0.2
    assert "Exécuté : 100.00 € fin mars" in root.find(f"{NS}desc").text


def test_a_single_month_draws_a_point_not_a_line():
    svg = charts.cumulative_curve(["janv."], [charts.Series("Payé", (D("10"),), "#000")], fmt=fmt, title="t")
    root = ET.fromstring(svg)
    assert root.find(f"{NS}polyline") is None and len(list(root.iter(f"{NS}circle"))) == 1


@given(st.lists(st.tuples(st.decimals(0, 10**9, places=2), st.decimals(0, 10**9, places=2)), min_size=1,
                max_size=12))
def test_bars_never_leave_their_track(values):
    bars = [charts.Bar(f"B{i}", total, (charts.Segment("a", v, "#000"), charts.Segment("b", v, "#111")))
            for i, (total, v) in enumerate(values)]
    svg = charts.progress_bars(bars, fmt=fmt, title="t")
    root = ET.fromstring(svg)
    tracks = [r for r in root.findall(f"{NS}rect")]
    right = float(tracks[0].get("x")) + float(tracks[0].get("width"))
    for rect in _bars(svg):
        assert float(rect.get("x")) + float(rect.get("width")) <= right + 0.11


def test_the_phone_chart_is_drawn_at_the_width_it_is_shown_with_its_amounts_written():
    """At 390 px the columns' 720-wide drawing halves its 10 px labels; the rows are drawn 360 wide (shown at about
    that width), every text at 12 px or more, and each amount written beside its bar."""
    import re

    labels = ["01/12", "08/12", "janv. 27"]
    svg = charts.cash_rows(labels, [D("12000.00"), D("0"), D("3000.00")], [D("0"), D("0"), D("4500.00")],
                           fmt=fmt, title="Trésorerie")
    assert 'viewBox="0 0 320 ' in svg
    assert min(int(size) for size in re.findall(r'font-size="(\d+)"', svg)) >= 12
    for label in labels:
        assert f">{label}</text>" in svg
    assert ">12000.00 €</text>" in svg and ">4500.00 €</text>" in svg and ">0.00 €</text>" not in svg
    # The longest bar plus its amount stays inside the drawing.
    widths = [float(w) for w in re.findall(r'<rect x="66" y="[\d.]+" width="([\d.]+)"', svg)]
    assert max(widths) + 66 + 4 + 14 * 12 * 0.6 <= 320  # « 1 234 567,89 € » at 12 px
