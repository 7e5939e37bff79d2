"""The dashboards benchmark (bench/dashboards.py) runs end to end in its --quick mode and reports numbers.

Not a timed test: nothing here looks at how fast the pages are. What is checked is that the script seeds a database
the application accepts (every piece's hash chain, transitions and deposited facts pass `flask audit verify`; the
application's role sees no piece without a tenant, so row-level security applies), serves it with gunicorn, logs
in, gets 200 from every page, and writes the figures and ratios it promises.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import dashboards as bench  # noqa: E402
import dashboards_median as median  # noqa: E402
import dashboards_seed as seeding  # noqa: E402

from chorus_chain.domain import identifiers  # noqa: E402
from tests.conftest import _worker  # noqa: E402


def test_generated_identifiers_are_valid():
    sirets = {seeding._siret(n, public) for n in (1, 2, 99, 1234, 99_999) for public in (True, False)}
    assert len(sirets) == 10
    for siret in sirets:
        assert identifiers.clean_siret(siret) == siret
    for n in (1, 57, 4321):
        assert identifiers.clean_iban(seeding._iban(n)) == seeding._iban(n)


def test_sizes_grow_with_the_pieces():
    assert (seeding.Sizes().structures, seeding.Sizes().marches) == (240, 120)  # the reference world, 100 000
    big = seeding.Sizes(pieces=1_000_000)
    assert (big.structures, big.marches) == (2_400, 1_200)
    assert (seeding.Sizes(pieces=2_000).structures, seeding.Sizes(pieces=2_000, marches=7).marches) == (240, 7)


def test_a_chunk_of_pieces_is_the_same_whoever_seeds_it():
    """The --jobs processes seed disjoint chunks: a chunk's rows depend on its number only (its own random stream
    and slice of the history), not on which process runs it nor on what ran before."""
    from datetime import datetime, timezone

    sizes = seeding.Sizes(pieces=300, structures=80, marches=10, chunk=100)
    _, _, plan = seeding.build_plan(sizes, datetime(2026, 12, 1, tzinfo=timezone.utc))
    runs = []
    for order in ((0, 1, 2), (2, 1, 0)):
        writers = {}
        for chunk in order:
            writers[chunk] = seeding.Writer()
            seeding._simulate_chunk(plan, chunk, writers[chunk])
        runs.append({chunk: dict(writer.rows) for chunk, writer in writers.items()})
    assert runs[0] == runs[1]
    columns = writers[0].columns["piece"]
    pieces = [dict(zip(columns, row)) for chunk in range(3) for row in runs[0][chunk]["piece"]]
    assert [p["id"] for p in pieces] == list(range(1, 301))  # each chunk its own range of ids
    assert [p["created_at"] for p in pieces] == sorted(p["created_at"] for p in pieces)  # deposit order


def test_seeded_events_hash_as_the_application_hashes_them():
    """Without a database: `audit_chain.event_hash` over the payload rebuilt from each row the seeder writes — what
    `flask audit verify` does on the stored rows — gives the chain the seeder wrote (the quick run checks it on
    PostgreSQL too, slower)."""
    from datetime import datetime, timezone

    from chorus_chain.domain import audit_chain
    from chorus_chain.operations import pieces_records as records

    sizes = seeding.Sizes(pieces=200, structures=80, marches=10, chunk=200)
    _, _, plan = seeding.build_plan(sizes, datetime(2026, 12, 1, tzinfo=timezone.utc))
    writer = seeding.Writer()
    seeding._simulate_chunk(plan, 0, writer)
    columns = writer.columns["piece_event"]
    events = [dict(zip(columns, row)) for row in writer.rows["piece_event"]]
    assert {e["action"] for e in events} >= {"create", "deposit", "mark_paid"} and any(e["amount"] for e in events)
    for event in events:
        payload = audit_chain.event_payload(
            piece=records.piece_ref(event["piece_id"]), seq=event["seq"], at=event["at"], actor=event["actor"],
            actor_siret=event["actor_siret"], action=event["action"], from_status=event["from_status"],
            to_status=event["to_status"], reason=event["reason"], comment=event["comment"], amount=event["amount"],
            paid_on=event["paid_on"], extra=json.loads(event["extra"]) if event["extra"] else None)
        assert audit_chain.event_hash(event["prev_hash"], payload) == event["hash"], event


def test_page_list_is_a_parameter():
    assert bench.parse_pages(["s=/s/{siret}/synthese", "t=/s/{siret}/tableau-de-bord"]) == {
        "s": "/s/{siret}/synthese", "t": "/s/{siret}/tableau-de-bord"}
    assert bench.parse_pages(None) == bench.PAGES
    with pytest.raises(SystemExit):
        bench.parse_pages(["synthese"])


def test_the_tail_says_where_the_slowest_answers_waited_and_how_the_clients_split():
    """`tail`: the slowest 5 % (latency ≥ p95) against all answers — queued outside the application (latency −
    Server-Timing's total), and inside it on the CPU, in the driver or waiting for the GIL; and how many clients each
    worker served (a client's keep-alive connection stays with one worker)."""
    def sample(client: int, worker: int, ms: float, total: float) -> bench.Sample:
        return bench.Sample("moe", ms / 1000, 200, 10, {"cpu": 2.0, "db": 5.0, "sql": 3, "total": total}, client,
                            worker)

    fast = [sample(client, 11 if client < 5 else 12, 10.0, 9.0) for client in range(8) for _ in range(12)]
    slow = [sample(client, 11, 100.0, 30.0) for client in (0, 0, 1, 2, 3, 4)]  # 6 of 103 answers: p95 and above
    figures = bench.tail(fast + slow + [sample(7, 11, 10.0, 9.0)])  # client 7 once on the other worker
    assert figures["slowest"]["n"] == 6
    assert figures["slowest"]["latency_ms"] == pytest.approx(100.0)
    assert figures["slowest"]["queued_ms"] == pytest.approx(70.0) and figures["slowest"]["total_ms"] == 30.0
    assert figures["slowest"]["other_ms"] == pytest.approx(23.0)  # 30 − 2 on the CPU − 5 in the driver
    assert figures["all"]["n"] == 103 and figures["all"]["queued_ms"] < 10
    assert figures["workers"] == [5, 3] and figures["moved"] == 1
    assert bench.tail([])["slowest"]["n"] == 0


class _Answer:
    def __init__(self, url: str, worker: int) -> None:
        self.status_code, self.content = 200, b"ok"
        self.headers = {"Server-Timing": f'cpu;dur=1, db;dur=1, sql;desc="1";dur=1, total;dur=2, '
                                         f'worker;desc="{worker}"'}


class _Session:
    """A requests.Session stand-in: records what the client did (a URL asked, or its connections closed) and answers
    from the worker that holds its connection — a new one drawn after each close, as gunicorn's accept does."""

    def __init__(self, log: list[str], workers: list[int]) -> None:
        self.log, self.workers, self.connected = log, workers, None

    def get(self, url: str, **_) -> _Answer:
        if self.connected is None:
            self.connected = self.workers.pop(0)
        self.log.append(url)
        return _Answer(url, self.connected)

    def close(self) -> None:
        self.log.append("close")
        self.connected = None


def test_each_page_phase_follows_its_floor_on_new_connections():
    """`measure`: for each page in turn, every client closes its connection, hits the trivial page (the floor) then
    the page; the floor's split between the workers is the page's, and each pair draws its own."""
    log: list[str] = []
    # The workers each client's connections land on: the warm-up's, then one per pair of phases.
    sessions = [_Session(log, [1, 1, 2, 1, 2]), _Session(log, [1, 1, 1, 1, 1])]
    clients = [bench.Client("moe", "1", session, {}, n) for n, session in enumerate(sessions)]
    pages = {bench.TRIVIAL[0]: bench.TRIVIAL[1], "a": "/a", "b": "/b"}
    phases = bench.measure("http://x", clients, pages, 0.01, 2, 1, 0.01)
    assert [(p.kind, p.name, p.round) for p in phases] == [
        ("floor", "a", 0), ("page", "a", 0), ("floor", "b", 0), ("page", "b", 0),
        ("floor", "b", 1), ("page", "b", 1), ("floor", "a", 1), ("page", "a", 1)]
    assert {s.status for p in phases for s in p.samples} == {200}
    assert all(p.samples and p.seconds > 0 for p in phases)
    assert log.count("close") == 2 * 4  # two clients, before each of the four pairs
    assert [url for url in log[log.index("close"):] if url != "close"][0] == "http://x/healthz"
    figures = bench.phase_figures(phases)
    assert [f["workers"] for f in figures[:4]] == [[2], [2], [1, 1], [1, 1]]  # both on 1, then 2 / 1
    assert all(f["moved"] == 0 for f in figures)
    # Each page is judged against its own floor phases; the trivial page's whole-run figure keeps every floor.
    summaries = bench.summaries(phases, pages)
    assert summaries["healthz"]["requests"] == sum(len(p.samples) for p in phases if p.kind == "floor")
    assert summaries["a"]["floor"]["requests"] == sum(len(p.samples) for p in phases
                                                      if p.kind == "floor" and p.name == "a")
    assert summaries["healthz"]["phases"] == 4 and summaries["a"]["phases"] == 2


def _figures(rps: float, p95: float) -> dict:
    return {"rps": rps, "p95_ms": p95, "p50_ms": p95 / 2}


def test_a_page_is_judged_against_the_floor_measured_beside_it():
    """The ratios divide by the trivial page's phases just before the page's own (`floor`), per account too; the
    whole run's trivial figure gives `whole_run`, and each round's pair its own ratio."""
    pages = {
        "healthz": {**_figures(300.0, 40.0), "accounts": {"moe": _figures(150.0, 40.0)}},
        "tdb": {**_figures(60.0, 150.0), "accounts": {"moe": _figures(30.0, 150.0)},
                "floor": {**_figures(200.0, 60.0), "accounts": {"moe": _figures(100.0, 60.0)}}},
    }
    phases = [{"kind": "floor", "page": "tdb", "round": 0, **_figures(250.0, 50.0)},
              {"kind": "page", "page": "tdb", "round": 0, **_figures(50.0, 140.0)},
              {"kind": "floor", "page": "tdb", "round": 1, **_figures(160.0, 70.0)},
              {"kind": "page", "page": "tdb", "round": 1, **_figures(70.0, 160.0)}]
    ratio = bench.ratios(pages, phases)["tdb"]
    assert ratio["throughput"] == pytest.approx(0.3) and ratio["p95"] == pytest.approx(2.5) and ratio["meets"]
    assert ratio["accounts"]["moe"]["throughput"] == pytest.approx(0.3) and ratio["accounts"]["moe"]["meets"]
    whole = ratio["whole_run"]
    assert whole["throughput"] == pytest.approx(0.2) and whole["p95"] == pytest.approx(3.75) and not whole["meets"]
    assert whole["accounts"]["moe"]["throughput"] == pytest.approx(0.2)
    assert [r["throughput"] for r in ratio["rounds"]] == [pytest.approx(0.2), pytest.approx(70 / 160)]
    assert [r["p95"] for r in ratio["rounds"]] == [pytest.approx(2.8), pytest.approx(160 / 70)]


def test_reconnect_opens_new_connections_one_client_after_the_other_keeping_the_login():
    """`reconnect`: each client drops its connection and opens a new one (a request to the trivial page) before the
    next client does — one after the other, as users arrive, not all at once."""
    log: list[str] = []
    clients = [bench.Client("moe", "1", _Session(log, [1, 2]), {}, n) for n in range(2)]
    bench.reconnect("http://x", clients)
    assert log == ["close", "http://x/healthz", "close", "http://x/healthz"]
    assert [c.session.connected for c in clients] == [1, 1]
    # What it relies on in requests: closing a session empties its pools and keeps its cookies.
    session = requests.Session()
    session.cookies.set("session", "logged-in")
    session.get_adapter("http://127.0.0.1").poolmanager.connection_from_url("http://127.0.0.1:9")
    session.close()
    assert len(session.get_adapter("http://127.0.0.1").poolmanager.pools) == 0
    assert session.cookies.get("session") == "logged-in"


def _run(met: dict[str, tuple[float, float]]) -> dict:
    """A run's result as the median reads it: page → account → (throughput ratio, p95 ratio)."""
    def ratio(t: float, p: float) -> dict:
        return {"throughput": t, "p95": p, "meets": t >= 0.25 and p <= 3.0}

    return {"goal": {"throughput": 0.25, "p95": 3.0}, "pages": {"healthz": {"rps": 250.0, "p95_ms": 50.0}},
            "ratios": {"tdb": {**ratio(0.3, 2.5), "accounts": {a: ratio(*v) for a, v in met.items()},
                               "whole_run": {**ratio(0.3, 2.5),
                                             "accounts": {a: ratio(v[0] * 0.9, v[1]) for a, v in met.items()}}}}}


def test_several_runs_one_verdict_on_the_medians():
    """dashboards_median: per pair, the median of the runs' throughput ratios and of their p95 ratios, the goal
    judged on the medians — a pair can meet it on the median while meeting it in no single run."""
    runs = [_run({"moe": (0.30, 3.4), "moa": (0.20, 2.0)}),
            _run({"moe": (0.24, 2.9), "moa": (0.22, 2.1)}),
            _run({"moe": (0.26, 2.8), "moa": (0.40, 4.0)})]
    judged = median.verdict(runs)
    moe, moa = judged["ratios"]["tdb"]["accounts"]["moe"], judged["ratios"]["tdb"]["accounts"]["moa"]
    assert (moe["throughput"], moe["p95"], moe["meets"]) == (0.26, 2.9, True)
    assert moe["met_in_runs"] == 1 and moe["runs"]["throughput"] == [0.30, 0.24, 0.26]
    assert (moa["throughput"], moa["p95"], moa["meets"]) == (0.22, 2.1, False)
    assert judged["pairs"] == 2 and judged["met"] == 1 and judged["keep_throughput"] == 1
    assert judged["met_per_run"] == [0, 0, 1]
    assert judged["ratios"]["tdb"]["whole_run"]["accounts"]["moe"]["throughput"] == pytest.approx(0.234)
    assert judged["met_whole_run"] == 0
    assert "1 of 2 meet the whole goal" in median.report(judged)


@pytest.mark.postgres
def test_quick_run_seeds_serves_and_reports(tmp_path):
    database = "chorus_bench_" + re.sub(r"[^a-z0-9]", "", _worker().lower())
    output = tmp_path / "result.json"
    try:
        # Four chunks over two processes: the streamed, parallel seeding is what audit verify reads back below.
        run = subprocess.run([sys.executable, "bench/dashboards.py", "--quick", "--keep", "--database", database,
                              "--chunk", "500", "--jobs", "2", "--json", str(output)],
                             cwd=ROOT, capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        result = json.loads(output.read_text())

        counts = result["seed"]["counts"]
        assert counts["structure"] >= 200 and counts["marche"] >= 100 and counts["piece"] == 2000
        assert counts["piece_event"] > 2 * counts["piece"]  # creation, deposit and what followed
        assert counts["piece_access"] > counts["piece"] and counts["deadline"] > 0 and counts["notification"] > 0
        assert set(result["seed"]["logins"]) == set(seeding.BENCH_LOGINS)
        assert result["seed"]["jobs"] == 2 and result["seed"]["peak_rss_mb"]["jobs"] > 0

        assert set(result["pages"]) == {bench.TRIVIAL[0], *bench.PAGES}
        assert result["page_problems"] == {}
        accounts = set(list(seeding.BENCH_LOGINS)[:2])  # --quick: two clients, the first two accounts
        for name, page in result["pages"].items():
            assert page["requests"] > 0 and page["errors"] == 0, (name, page)
            assert page["rps"] > 0 and page["p50_ms"] > 0 and page["p95_ms"] >= page["p50_ms"], (name, page)
            # The server's own cost, read from its Server-Timing header.
            assert page["cpu_ms"] > 0 and page["sql"] >= 1 and page["db_ms"] > 0, (name, page)
            assert set(page["accounts"]) == accounts, name
            # Where its slowest answers waited, and which worker served each client (Server-Timing's worker).
            assert page["tail"]["all"]["n"] > 0 and page["tail"]["slowest"]["n"] > 0, name
            assert sum(page["tail"]["workers"]) == 2, (name, page["tail"])
        for name in bench.PAGES:
            ratio = result["ratios"][name]
            assert ratio["throughput"] > 0 and ratio["p95"] > 0 and set(ratio["accounts"]) == accounts
            # Against the floor measured just before its phase, and against the whole run's /healthz.
            assert result["pages"][name]["floor"]["rps"] > 0 and set(result["pages"][name]["floor"]["accounts"]) \
                == accounts
            whole = ratio["whole_run"]
            assert whole["throughput"] > 0 and whole["p95"] > 0 and set(whole["accounts"]) == accounts
            assert len(ratio["rounds"]) == 1 and ratio["rounds"][0]["throughput"] > 0
        # Each page phase after its floor phase, each pair on new connections, the clients' split per phase.
        assert result["floor_seconds"] == 1 and result["goal"] == bench.GOAL
        assert [(p["kind"], p["page"]) for p in result["phases"]] == [
            (kind, name) for name in bench.PAGES for kind in ("floor", "page")]
        assert all(sum(p["workers"]) == 2 and p["moved"] == 0 and p["rps"] > 0 for p in result["phases"])
        assert result["pages"][bench.TRIVIAL[0]]["phases"] == len(bench.PAGES)
        # Each account's filters are its own, and its deep page is reached by following « suivant ».
        for key in accounts:
            values = result["account_values"][key]
            assert values["marche_id"].isdigit() and values["party_id"].isdigit() and values["number"]
            assert int(values["deep_followed"]) > 0 and "tableau-de-bord?" in values["deep_page"]
        assert "÷ trivial req/s" in run.stdout and "figures written to" in run.stdout
        assert "clients/worker" in run.stdout and "The floor beside each page" in run.stdout

        # Several runs, one verdict: the median script reads the runs' JSON (here the same run twice).
        judged = median.verdict([result, result])
        assert judged["pairs"] == len(bench.PAGES) * len(accounts) and judged["met_per_run"][0] == judged["met"]

        # The seeded history is one the application itself would have written.
        env = {**os.environ, "DATABASE_URL": bench.app_database_url(database), "SECRET_KEY": "x",
               "CHORUS_ENV": "production", "REDIS_URL": ""}
        verify = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "audit", "verify"], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=600)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert f"{counts['piece']} pièce(s), {counts['piece_event']} événement(s)" in verify.stdout

        # The read model the seeding built (flask board recompute) is exact: nothing to correct.
        check = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "board", "recompute", "--check"],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "0 manquante(s), 0 en trop, 0 différente(s)" in check.stdout
        assert result["seed"]["seconds"]["recompute"] > 0

        # The application's role is subject to row-level security there: no tenant, no piece.
        import psycopg

        with psycopg.connect(bench.app_database_url(database)) as conn:
            assert conn.execute("SELECT count(*) FROM piece").fetchone()[0] == 0
    finally:
        bench.drop_database(database)
