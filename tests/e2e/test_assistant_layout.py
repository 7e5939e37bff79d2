"""The « Assistant » button never lies over the page's content (issue 15): at 1366 px and on a 390 px phone it has its
own opaque strip along the bottom of the window and the page is padded by the strip's height, so the last rows and
the right edge of every table scroll clear of it; on a screen wide enough for the margin beside the content to hold it,
it floats there, beside the content, never on it. Screenshots in tests/artifacts/assistant-*.png."""
from __future__ import annotations

from tests.e2e.actors import enter
from tests.e2e.conftest import screenshot

# The boxes of `main` (cards, table cells, paragraphs, buttons…) that meet the assistant's toggle or strip.
UNDER = """(selector) => {
  const r = document.querySelector(selector).getBoundingClientRect(), out = [];
  for (const e of document.querySelectorAll("main td, main th, main p, main li, main a, main button, main dd, main dt, main h2, main .card")) {
    const b = e.getBoundingClientRect();
    if (b.width < 1 || b.height < 1 || !e.checkVisibility()) continue;  // a closed confirmation dialog is not shown
    if (b.right > r.left && b.left < r.right && b.bottom > r.top && b.top < r.bottom)
      out.push(`${e.tagName.toLowerCase()} « ${e.textContent.trim().slice(0, 30)} »`);
  }
  return out.slice(0, 6);
}"""


def _scroll_positions(page, steps: int = 6) -> list[int]:
    height = page.evaluate("() => document.documentElement.scrollHeight - window.innerHeight")
    return sorted({max(0, height * i // steps) for i in range(steps + 1)})


def _strip_keeps_clear(page, width: int, height: int) -> None:
    prefix = enter(page, "durand")
    for path in ("tableau-de-bord", "synthese"):  # long pages, tables to their last row
        page.goto(f"{prefix}/{path}")
        page.wait_for_load_state("networkidle")
        strip = page.evaluate("""() => { const a = document.querySelector("[data-testid=assistant]");
            const s = getComputedStyle(a), r = a.getBoundingClientRect();
            return {left: r.left, right: r.right, bottom: r.bottom, top: r.top, background: s.backgroundColor,
                    padding: parseFloat(getComputedStyle(document.body).paddingBottom)}; }""")
        # A strip across the whole width, at the bottom of the window, opaque; the page padded by its height.
        assert strip["left"] == 0 and strip["right"] == width and abs(strip["bottom"] - height) < 1, strip
        assert strip["background"] not in ("rgba(0, 0, 0, 0)", "transparent"), strip
        assert strip["padding"] >= strip["bottom"] - strip["top"], strip
        # Scrolled to the end, nothing of the content is under the strip.
        page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
        assert page.evaluate(UNDER, "[data-testid=assistant]") == [], path
        screenshot(page, f"assistant-{width}-{path}")


def test_at_1366_px_the_assistant_has_its_own_strip(page):
    page.set_viewport_size({"width": 1366, "height": 768})
    page.set_default_timeout(30_000)  # a loaded machine: a login may take more than 10 s
    _strip_keeps_clear(page, 1366, 768)


def test_on_a_phone_the_assistant_has_its_own_strip(phone):
    phone.set_default_timeout(30_000)
    _strip_keeps_clear(phone, 390, 844)


def test_on_a_wide_screen_the_button_floats_beside_the_content(browser, live_server):
    context = browser.new_context(base_url=live_server[0], locale="fr-FR", viewport={"width": 1600, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)  # a loaded machine: a login may take more than 10 s
    try:
        prefix = enter(page, "durand")
        page.goto(f"{prefix}/tableau-de-bord")
        page.wait_for_load_state("networkidle")
        for y in _scroll_positions(page):
            page.evaluate("(y) => window.scrollTo(0, y)", y)
            assert page.evaluate(UNDER, "[data-testid=assistant-toggle]") == [], y
    finally:
        context.close()
