"""The ECB rate table of late-payment interest as editable data: the seeded rates, `flask rates list|set|delete`, the
read-only page for anyone logged in and the operators' form."""
from __future__ import annotations

import html
import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.models import InterestRate
from chorus_chain.operations import OperationError
from chorus_chain.operations import interest as ops
from tests import factories


def table(app) -> dict[date, Decimal]:
    with app.app_context():
        return {row.effective_from: row.rate_percent for row in db.session.scalars(select(InterestRate))}


def run(app, *args):
    return app.test_cli_runner().invoke(args=["rates", *args])


def page_text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.get_data(as_text=True)).replace("\u202f", " ")
                  .replace("\xa0", " "))


def test_the_seeded_table_gives_the_rate_of_each_half_year(app, db):
    rates = table(app)
    assert len(rates) == 19 and rates[date(2025, 6, 11)] == Decimal("2.150")
    with app.app_context():
        halves = {h.start: h.rate_percent for h in ops.half_year_rates(ops.rate_table(), 2023, 2026)}
    # ECB rate on the first day of each half-year + 8 points.
    assert halves == {
        date(2023, 1, 1): Decimal("10.500"),  # 2.50 % since 21 Dec 2022
        date(2023, 7, 1): Decimal("12.000"),  # 4.00 % since 21 Jun 2023
        date(2024, 1, 1): Decimal("12.500"),  # 4.50 % since 20 Sep 2023
        date(2024, 7, 1): Decimal("12.250"),  # 4.25 % since 12 Jun 2024
        date(2025, 1, 1): Decimal("11.150"),  # 3.15 % since 18 Dec 2024
        date(2025, 7, 1): Decimal("10.150"),  # 2.15 % since 11 Jun 2025
        date(2026, 1, 1): Decimal("10.150"),
        date(2026, 7, 1): Decimal("10.150"),
    }


def test_flask_rates_list(app, db):
    result = run(app, "list")
    assert result.exit_code == 0, result.output
    assert "2025-06-11" in result.output and " 2,15 %" in result.output and "2,150" not in result.output
    assert "Taux des intérêts moratoires par semestre" in result.output


def test_flask_rates_set_adds_corrects_and_changes_the_interest(app, db):
    result = run(app, "set", "2026-07-01", "2,40", "--source", "ECB decision (test)")
    assert result.exit_code == 0, result.output
    assert "Taux de la BCE au 1er juil. 2026 : 2,4 % enregistré." in result.output
    assert table(app)[date(2026, 7, 1)] == Decimal("2.400")
    with app.app_context():
        assert ops.rate_table().rate_on(date(2026, 7, 1)).rate_percent == Decimal("2.400")
        row = db.session.scalar(select(InterestRate).where(InterestRate.effective_from == date(2026, 7, 1)))
        assert row.source == "ECB decision (test)"
    # The same date again corrects it (no second row).
    assert run(app, "set", "2026-07-01", "2.25").exit_code == 0
    assert table(app)[date(2026, 7, 1)] == Decimal("2.250") and len(table(app)) == 20


@pytest.mark.parametrize(("rate", "message"), [
    ("-0.5", "ne peut pas être négatif"),
    ("25", "supérieur à 20 %"),
    ("2,1234", "Trois décimales au plus"),
    ("deux", "Indiquez le taux en pourcentage"),
])
def test_flask_rates_set_refuses_absurd_rates(app, db, rate, message):
    result = run(app, "set", "2026-07-01", "--", rate) if rate.startswith("-") else run(app, "set", "2026-07-01",
                                                                                          rate)
    assert result.exit_code != 0 and message in result.output, result.output
    assert date(2026, 7, 1) not in table(app)


def test_flask_rates_set_refuses_a_bad_date(app, db):
    result = run(app, "set", "01/07/2026", "2.15")
    assert result.exit_code != 0 and "n'est pas une date AAAA-MM-JJ" in result.output


def test_flask_rates_delete(app, db):
    assert run(app, "set", "2026-07-01", "2.40").exit_code == 0
    result = run(app, "delete", "2026-07-01")
    assert result.exit_code == 0 and "Taux du 1er juil. 2026 supprimé." in result.output
    assert date(2026, 7, 1) not in table(app)
    result = run(app, "delete", "2026-07-01")
    assert result.exit_code != 0 and "Aucun taux n'est enregistré au 01/07/2026." in result.output


def test_the_last_rate_cannot_be_deleted(app, db):
    with app.app_context():
        db.session.execute(db.delete(InterestRate).where(InterestRate.effective_from > date(2016, 3, 16)))
        db.session.commit()
        with pytest.raises(OperationError, match="C'est le seul taux de la table"):
            ops.delete_rate(date(2016, 3, 16))


def test_the_rates_page_is_read_by_anyone_logged_in(app, client, db):
    assert "/connexion" in client.get("/taux-bce/").headers["Location"]
    factories.login(client, factories.account(app))
    response = client.get("/taux-bce/")
    assert response.status_code == 200
    text = page_text(response)
    assert "1er semestre 2025" in text and "11,15 %" in text and "2nd semestre 2025" in text and "10,15 %" in text
    assert "11 juin 2025" in text and "40,00 €" in text
    assert "Enregistrer un taux" not in text and "Supprimer" not in text  # not an operator
    # Changes are for operators only.
    assert client.post("/taux-bce/", data={"effective_from": "2026-07-01", "rate": "2,4",
                                            "source": "x"}).status_code == 403
    assert client.post("/taux-bce/supprimer", data={"effective_from": "2025-06-11"}).status_code == 403
    assert date(2025, 6, 11) in table(app) and date(2026, 7, 1) not in table(app)


def test_an_operator_adds_and_deletes_a_rate(app, client, db):
    factories.login(client, factories.account(app, is_operator=True))
    text = page_text(client.get("/taux-bce/"))
    assert "Enregistrer un taux (opérateur)" in text
    refused = client.post("/taux-bce/", data={"effective_from": "2026-07-01", "rate": "45", "source": "BCE"})
    assert refused.status_code == 422 and "supérieur à 20 %" in page_text(refused)
    missing = client.post("/taux-bce/", data={"effective_from": "", "rate": "2,4", "source": ""})
    assert missing.status_code == 422
    assert "Indiquez la date d'effet du taux." in page_text(missing)
    assert "Indiquez d'où vient ce taux." in page_text(missing)
    assert date(2026, 7, 1) not in table(app)
    added = client.post("/taux-bce/", data={"effective_from": "2026-07-01", "rate": "2,4",
                                            "source": "Décision de la BCE (test)"})
    assert added.status_code == 303 and table(app)[date(2026, 7, 1)] == Decimal("2.400")
    text = page_text(client.get("/taux-bce/"))
    assert "Taux de la BCE au 1er juil. 2026 : 2,4 % enregistré." in text and "Décision de la BCE (test)" in text
    deleted = client.post("/taux-bce/supprimer", data={"effective_from": "2026-07-01"})
    assert deleted.status_code == 303 and date(2026, 7, 1) not in table(app)
    assert client.post("/taux-bce/supprimer", data={"effective_from": "pas une date"}).status_code == 422
