"""Browser tests: a live server of the application in a thread, on its own database seeded with the demo, driven by
Playwright through Debian's Chromium. Skipped (with the reason) where no browser is installed — never under CI."""
from __future__ import annotations

import os
import re
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import IN_CI, demo_database

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _browser_problem() -> str | None:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    return None


BROWSER_PROBLEM = _browser_problem()
if IN_CI and BROWSER_PROBLEM:
    raise pytest.UsageError(f"CI runs the browser tests: {BROWSER_PROBLEM}")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if BROWSER_PROBLEM and "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=BROWSER_PROBLEM))


@pytest.fixture(scope="module")
def live_database_url(request, demo_template, tmp_path_factory):
    """One demo database per test module: each module starts from the demo as the README's reader finds it (seeded,
    its états' PDFs rendered), a copy of the run's template (tests/conftest.py). (A session-wide one made the modules
    depend on their order: every projet de décompte deposited by one module moved the next module's default month on,
    past the current month.)"""
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")[:20]
    return demo_database(f"chorus_e2e_{module}", demo_template, tmp_path_factory)


@pytest.fixture(scope="module")
def live_server(live_database_url):
    """The application served on 127.0.0.1 (an ephemeral port) in a thread, on the module's demo database."""
    from werkzeug.serving import make_server

    from chorus_chain import create_app

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": live_database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        "REDIS_URL": None,
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        "OUTBOX_PAGE": True,
        "LOGIN_RATE_LIMIT": "10000 per minute",
    })
    # The first PDF a process renders loads WeasyPrint's fonts (seconds on a loaded machine). The seeding used to do
    # it in this process; the template is seeded by the run's first worker, so the MOE's « Émettre » (which renders
    # the état's PDF inline, without Redis) would pay it within the page's 10 s.
    from weasyprint import HTML

    HTML(string="<p>chorus-chain</p>").write_pdf()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app.config["BASE_URL"], app
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _assertion_timeout():
    """An expectation waits as long as an action may (10 s, not Playwright's 5): without Redis the live server
    renders a document inline on the request that queued it (the état's PDF when the MOE issues, the validated
    état's when the MOA validates), and the page's message only comes with that response."""
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server[0], locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _server_work_ms() -> int:
    """The longest one request of the live server may legitimately work: without Redis it runs the jobs its change
    queued before answering (`jobs.queue._run_inline`: the état's PDF when the MOE issues it, the A19's when the MOA
    validates, the e-mails), each bounded by its job's lease."""
    from chorus_chain.jobs.queue import JOBS

    return max(kind.lease_seconds for kind in JOBS.values()) * 1000


SERVER_WORK_MS = _server_work_ms()


def _first_request(request):
    while request.redirected_from is not None:
        request = request.redirected_from
    return request


@contextmanager
def answered(page, path_part: str, *, method: str = "POST", body: str | None = None):
    """Wait for the server's final answer (redirects followed) to the `method` request whose URL contains `path_part`
    (and whose body contains `body`) made inside the block: what a step must wait for before reading the page it
    leads to. Its time is the server's, not a guess: on a loaded machine an issue that renders its PDF inline took
    more than the 10 s the page's expectations allow, so the journey waits for the answer itself (bounded by the
    jobs' leases) and then reads the page within the usual 10 s.

        with answered(page, "/emettre"):
            confirm(page, button)
    """
    def is_the_answer(response) -> bool:
        first = _first_request(response.request)
        return (first.method == method and path_part in first.url and not 300 <= response.status < 400
                and (body is None or body in (first.post_data or "")))

    with page.expect_response(is_the_answer, timeout=SERVER_WORK_MS) as answer:
        yield answer


def login(page, email: str, password: str = "demo-chorus-2026") -> None:
    page.goto("/connexion")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    with answered(page, "/connexion"):  # a password hash: slow on a loaded machine, by design
        page.get_by_role("button", name="Se connecter").click()
    # One structure: straight to its Synthèse; none or several: the list of structures.
    page.wait_for_url(re.compile(r"/compte/structures$|/s/\d{14}/synthese$"))


@pytest.fixture
def phone(browser, live_server):
    """A phone: 390 px wide, touch, as the issue's user held it."""
    context = browser.new_context(base_url=live_server[0], locale="fr-FR", viewport={"width": 390, "height": 844},
                                  is_mobile=True, has_touch=True, device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
