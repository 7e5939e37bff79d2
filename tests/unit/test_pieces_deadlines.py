"""Deadlines: durations as data, due instants, French countdowns, reminders, expiry actions, clocks opened and closed
by transitions."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from chorus_chain.domain import deadlines as D
from chorus_chain.domain.deadlines import (
    DEADLINES,
    DeadlineSettingError,
    clock_changes,
    countdown_fr,
    days_left,
    due_at,
    expiry_action,
    is_expired,
    reminders_due,
)
from chorus_chain.domain.statuses import Status
from chorus_chain.domain.transitions import perform

UTC = timezone.utc
PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)


def test_the_figures_of_chorus_md():
    assert {k: d.days for k, d in DEADLINES.items()} == {
        "validation_1": 15, "validation_2": 15, "moe": 7, "paiement": 30, "dc4_acceptance": 21,
        "contest_moe_corrections": 30, "tacit_dgd": 10, "dg_signature": 30,
        "interets_moratoires": 45,  # R2192-36: the interest of a late payment is paid within 45 days
    }
    assert DEADLINES["dg_signature"].certainty == "assumed"
    assert D.dgp_days("etat") == 30 and D.dgp_days("etablissement_public_de_sante") == 50
    assert D.dgp_days("entreprise_publique") == 60
    with pytest.raises(ValueError):
        D.dgp_days("association")


@pytest.mark.parametrize(("days", "buyer", "refused"), [
    (45, "entreprise_publique", None), (45, "etablissement_public_de_sante", None), (60, "entreprise_publique", None),
    (20, "collectivite_territoriale", None), (30, "etat", None), (50, "etablissement_public_de_sante", None),
    (45, "collectivite_territoriale", "30 jours au plus pour les collectivités territoriales"),
    (31, "etat", "30 jours au plus pour l'État"), (51, "etablissement_public_de_sante", "50 jours au plus"),
    (61, "entreprise_publique", "60 jours au plus"), (0, "etat", "1 au moins"),
])
def test_a_dgp_of_any_number_of_days_up_to_the_buyers_ceiling(days, buyer, refused):
    if refused is None:
        D.check_dgp_days(days, buyer)
    else:
        with pytest.raises(DeadlineSettingError, match=refused):
            D.check_dgp_days(days, buyer)


def test_due_at_is_the_same_instant_n_calendar_days_later():
    assert due_at("validation_1", T0) == datetime(2026, 3, 17, 9, 15, tzinfo=UTC)
    assert due_at("dc4_acceptance", T0) == T0 + timedelta(days=21)
    assert due_at("tacit_dgd", T0) == T0 + timedelta(days=10)
    # Given in Paris time, computed in UTC: across the switch to summer time (29 March 2026) the Paris hour moves.
    start = datetime(2026, 3, 20, 10, 0, tzinfo=PARIS)
    due = due_at("validation_1", start)
    assert due.tzinfo == UTC and due == start.astimezone(UTC) + timedelta(days=15)
    assert due == datetime(2026, 4, 4, 9, 0, tzinfo=UTC)
    assert due.astimezone(PARIS).hour == 11  # 15 × 24 h later, not 10:00 Paris wall-clock time


def test_marche_settings_for_the_moe_and_the_dgp():
    assert due_at("moe", T0) == T0 + timedelta(days=7)
    assert due_at("moe", T0, days=15) == T0 + timedelta(days=15)
    assert due_at("paiement", T0, days=50) == T0 + timedelta(days=50)
    with pytest.raises(DeadlineSettingError, match="entre 1 et 15 jours"):
        due_at("moe", T0, days=16)
    assert due_at("paiement", T0, days=45) == T0 + timedelta(days=45)  # any number up to the buyer's ceiling
    with pytest.raises(DeadlineSettingError, match="de 1 à 60 jours au plus"):
        due_at("paiement", T0, days=61)
    with pytest.raises(DeadlineSettingError, match="fixé à 15 jours"):
        due_at("validation_1", T0, days=20)
    assert due_at("validation_1", T0, days=15) == T0 + timedelta(days=15)


def test_naive_instants_and_unknown_kinds_are_refused():
    with pytest.raises(ValueError):
        due_at("validation_1", datetime(2026, 3, 2, 9, 15))
    with pytest.raises(ValueError):
        due_at("retard", T0)
    with pytest.raises(ValueError):
        countdown_fr("moe", T0, datetime(2026, 3, 2))


@pytest.mark.parametrize(("kind", "now", "phrase"), [
    ("validation_1", T0 - timedelta(days=3, hours=2), "validation tacite dans 3 jours"),
    ("validation_1", T0 - timedelta(days=1, hours=5), "validation tacite dans un jour"),
    ("validation_1", T0 - timedelta(hours=5), "validation tacite dans moins d'un jour"),
    # Never rounded down to an earlier day: a 15-day clock started an hour ago ends in 15 days, on its day.
    ("validation_1", T0 - timedelta(days=14, hours=23), "validation tacite dans 15 jours"),
    ("validation_1", T0 - timedelta(days=2, hours=1), "validation tacite dans 2 jours"),
    ("validation_1", T0 + timedelta(days=2, hours=1), "délai de validation dépassé de 2 jours"),
    ("moe", T0 + timedelta(days=2), "maître d'œuvre en retard de 2 jours"),
    ("moe", T0 + timedelta(days=1), "maître d'œuvre en retard d'un jour"),
    ("moe", T0, "maître d'œuvre en retard de moins d'un jour"),
    ("moe", T0 - timedelta(days=4), "état d'acompte attendu du maître d'œuvre dans 4 jours"),
    ("paiement", T0 + timedelta(days=5), "paiement en retard de 5 jours : intérêts moratoires dus"),
    ("dc4_acceptance", T0 - timedelta(days=10), "acceptation tacite du sous-traitant dans 10 jours"),
    ("tacit_dgd", T0 + timedelta(days=3), "décompte général et définitif tacite acquis depuis 3 jours"),
])
def test_countdown_phrases(kind, now, phrase):
    assert countdown_fr(kind, T0, now) == phrase


def test_expiry_and_days_left():
    assert not is_expired(T0, T0 - timedelta(microseconds=1))
    assert is_expired(T0, T0)
    assert days_left(T0, T0 - timedelta(days=2, hours=1)) == 2
    assert days_left(T0, T0 + timedelta(hours=1)) == -1


def test_reminders_are_due_once_most_urgent_first():
    due = T0
    assert reminders_due("validation_1", due, due - timedelta(days=4)) == ()
    assert reminders_due("validation_1", due, due - timedelta(days=3)) == (3,)
    assert reminders_due("validation_1", due, due - timedelta(days=2), sent=[3]) == ()
    assert reminders_due("validation_1", due, due - timedelta(hours=20), sent=[3]) == (1,)
    # A sweep that ran late sees both: it sends one (the most urgent) and records both.
    assert reminders_due("validation_1", due, due - timedelta(hours=20)) == (1, 3)
    assert reminders_due("validation_1", due, due) == ()  # expired: the expiry action takes over
    assert reminders_due("paiement", due, due - timedelta(days=5)) == (5,)


def test_reminders_never_predate_the_clock():
    start = T0
    due = due_at("moe", start, days=2)
    assert reminders_due("moe", due, start, start=start) == ()
    assert reminders_due("moe", due, due - timedelta(days=1), start=start) == (1,)


def test_expiry_actions():
    assert expiry_action("validation_1") == "tacit_validation"
    assert expiry_action("validation_2") == "tacit_validation"
    assert expiry_action("moe") == "moe_late"
    assert expiry_action("dc4_acceptance") == D.ACCEPT_DC4_TACITLY
    assert expiry_action("tacit_dgd") == "tacit_dgd"
    assert expiry_action("dg_signature") == "tacit_dg_acceptance"
    assert expiry_action("paiement") is None  # late-payment interest starts, no status change
    assert expiry_action("contest_moe_corrections") is None
    assert "intérêts moratoires" in DEADLINES["paiement"].expiry_effect
    assert DEADLINES["moe"].alert_on_expiry == ("emitter", "titulaire", "moa")


def test_every_kind_has_french_texts_and_sensible_reminders():
    assert D.KIND_MAX_LENGTH <= 30  # the width of deadline.kind
    for spec in DEADLINES.values():
        assert spec.label and spec.starts and spec.expiry_effect
        assert "{delay}" in spec.upcoming or "{de_delay}" in spec.upcoming
        assert "{delay}" in spec.overdue or "{de_delay}" in spec.overdue
        assert all(0 < offset < spec.days for offset in spec.reminders)
        assert spec.remind


A9 = ("validation_1", "paiement")
A10 = ("validation_1", "moe", "moa", "paiement")


def test_clocks_follow_the_piece():
    assert clock_changes("BROUILLON", "A_VALIDER_1", A9) == D.ClockChanges(("validation_1",), ())
    assert clock_changes("A_VALIDER_1", "VALIDEE_1", A9) == D.ClockChanges((), ("validation_1",))
    assert clock_changes("VALIDEE_1", "DEPOSEE", A9) == D.ClockChanges(("paiement",), ())
    assert clock_changes("DEPOSEE", "MISE_A_DISPOSITION", A9) == D.ClockChanges()
    assert clock_changes("MANDATEE", "MISE_EN_PAIEMENT", A9) == D.ClockChanges((), ("paiement",))
    # Works: the DGP runs from the MOE's receipt.
    assert clock_changes("VALIDEE_1", "A_ASSOCIER_MOE", A10) == D.ClockChanges(("moe", "paiement"), ())
    assert clock_changes("PRISE_EN_COMPTE_MOE", "A_ASSOCIER_MOA", A10) == D.ClockChanges((), ("moe",))
    assert clock_changes("PRISE_EN_COMPTE_MOE", "ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE", A10).closed == ("moe",)
    # Recycling: not received, the DGP starts again when the piece is resent.
    assert clock_changes("MISE_A_DISPOSITION", "A_RECYCLER", A9).closed == ("paiement",)
    assert clock_changes("A_RECYCLER", "DEPOSEE", A9).opened == ("paiement",)
    # End of contract.
    assert clock_changes("BROUILLON", "A_ASSOCIER_MOA", ("moa",), cadre="A22").opened == ("tacit_dgd",)
    assert clock_changes("BROUILLON", "A_ASSOCIER_MOA", ("moa",), cadre="A17").opened == ()
    assert clock_changes("PRISE_EN_COMPTE_MOA", "A_ASSOCIER_FOURNISSEUR", ("moa",), cadre="A17").opened == (
        "dg_signature",)
    # A continuation piece (état d'acompte deposited by the MOE) gets no DGP of its own.
    assert D.running_in("paiement", ("moa", "paiement")) == frozenset()


def test_a_walk_opens_and_closes_each_clock_once():
    route = ("validation_1", "validation_2", "moe", "moa", "paiement")
    status = Status.BROUILLON
    opened, closed = [], []
    for action, actor in [("deposit", "emitter"), ("tacit_validation", "system"), ("validate", "validation_2"),
                          ("take", "moe"), ("issue_etat_acompte", "moe"), ("moa_take", "moa"),
                          ("moa_validate", "moa"), ("mark_service_fait", "paiement"), ("mark_mandatee", "paiement")]:
        for transition in perform(status, action, actor, route):
            changes = clock_changes(transition.from_status, transition.to_status, route)
            opened += changes.opened
            closed += changes.closed
            status = transition.to_status
    assert opened == ["validation_1", "validation_2", "moe", "paiement"]
    assert closed == ["validation_1", "validation_2", "moe"]
    for transition in perform(status, "mark_paid", "paiement", route, amount=Decimal("10.00"), paid_on=T0.date()):
        closed += clock_changes(transition.from_status, transition.to_status, route).closed
    assert closed[-1] == "paiement"


# --- The interest of a late payment: paid within 45 days of the principal's payment (R2192-36) ----------------------

def test_interest_is_due_through_the_45th_day_after_the_payment_day_in_paris():
    from datetime import date

    from chorus_chain.domain.deadlines import interest_payment_due_at

    # Summer: paid 6 July 2026 → last day 20 August (6 July + 45); due at its last instant, 23:59:59.999999 Paris
    # (UTC+2) = 21:59:59.999999 UTC.
    summer = interest_payment_due_at(date(2026, 7, 6))
    assert summer == datetime(2026, 8, 20, 21, 59, 59, 999999, tzinfo=timezone.utc)
    assert not is_expired(summer, datetime(2026, 8, 20, 21, 59, 59, tzinfo=timezone.utc))
    assert is_expired(summer, datetime(2026, 8, 20, 22, 0, tzinfo=timezone.utc))
    # Across the change to winter time (25 October 2026): paid 20 September → last day 4 November, Paris is UTC+1.
    assert interest_payment_due_at(date(2026, 9, 20)) == datetime(2026, 11, 4, 22, 59, 59, 999999,
                                                                  tzinfo=timezone.utc)
    # The countdown names the 45th day: on 1 August, 19 days to 20 August; on the 45th day itself, « moins d'un
    # jour »; the next morning it is overdue.
    assert countdown_fr("interets_moratoires", summer, datetime(2026, 8, 1, 8, tzinfo=timezone.utc)) == \
        "intérêts moratoires à payer dans 19 jours"
    assert countdown_fr("interets_moratoires", summer, datetime(2026, 8, 20, 8, tzinfo=timezone.utc)) == \
        "intérêts moratoires à payer dans moins d'un jour"
    assert countdown_fr("interets_moratoires", summer, datetime(2026, 8, 21, 8, tzinfo=timezone.utc)) == \
        "intérêts moratoires impayés, délai dépassé de moins d'un jour"
    # Reminders to the paying office 7 days and 1 day before, never opened by a status change.
    assert reminders_due("interets_moratoires", summer, datetime(2026, 8, 14, 8, tzinfo=timezone.utc)) == (7,)
    for route in (("validation_1", "moe", "moa", "paiement"), ("moe", "moa", "paiement")):
        assert D.running_in("interets_moratoires", route, cadre="A4") == frozenset()
    with pytest.raises(ValueError):
        interest_payment_due_at(datetime(2026, 7, 6, 10, tzinfo=timezone.utc))


def test_a_lapsed_dgp_still_counts_while_the_piece_is_in_a_status_it_runs_in_and_no_other_clock_does():
    """`counts_after_expiry`: the pages keep a délai global de paiement the sweep ended as the piece's clock while the
    piece may still be paid late (every status a DGP runs in, on some route), and no clock whose expiry acts."""
    works = D.running_in(D.PAIEMENT, ("validation_1", "moe", "moa", "paiement"), cadre="A10")
    paying_office = D.running_in(D.PAIEMENT, ("paiement",), cadre="A1")
    assert works | paying_office == D.PAIEMENT_STATUSES
    for status in Status:
        assert D.counts_after_expiry(D.PAIEMENT, status.value) == (status in works | paying_office), status
        for kind in D.DEADLINES:
            if kind != D.PAIEMENT:
                assert not D.counts_after_expiry(kind, status.value), (kind, status)
    assert not D.counts_after_expiry(D.PAIEMENT, "MISE_EN_PAIEMENT") and D.counts_after_expiry(D.PAIEMENT, "MANDATEE")


def test_the_countdowns_of_one_instant_are_the_rules_of_each_clock():
    """`Countdowns(now)`: a page's countdowns at one instant (`now` taken to UTC and to its Paris day once) say what
    `countdown_fr` and `is_expired` say of each clock — on both sides of the due instant, around Paris midnight and
    across both changes of hour, for every kind."""
    from chorus_chain.domain.deadlines import DEADLINES, Countdowns, is_expired

    instants = [datetime(2026, 3, 28, 21, 30, tzinfo=timezone.utc), datetime(2026, 10, 24, 22, 30, tzinfo=timezone.utc),
                datetime(2026, 6, 30, 22, 0, tzinfo=timezone.utc), datetime(2026, 12, 31, 23, 0, 1, tzinfo=timezone.utc)]
    paris = ZoneInfo("Europe/Paris")

    def said(kind, due, now):  # the rule written out: calendar days in Paris before, whole days elapsed after
        spec = DEADLINES[kind]
        if now < due:
            whole, phrase = (due.astimezone(paris).date() - now.astimezone(paris).date()).days, spec.upcoming
        else:
            whole, phrase = (now - due) // timedelta(days=1), spec.overdue
        delay = "moins d'un jour" if whole < 1 else "un jour" if whole == 1 else f"{whole} jours"
        de_delay = "de moins d'un jour" if whole < 1 else "d'un jour" if whole == 1 else f"de {whole} jours"
        return phrase.format(delay=delay, de_delay=de_delay)

    for now in instants + [instant.astimezone(paris) for instant in instants]:
        countdowns = Countdowns(now)
        for kind in DEADLINES:
            for hours in range(-80, 81, 7):
                due = now + timedelta(hours=hours * 3 + 0.5)
                assert countdowns.text(kind, due) == countdown_fr(kind, due, now) == said(kind, due, now), (kind, due)
                assert countdowns.expired(due) is is_expired(due, now) is (now >= due)
        assert countdowns.expired(now) and not countdowns.expired(now + timedelta(microseconds=1))
    with pytest.raises(ValueError):
        Countdowns(datetime(2026, 3, 2))  # a naive instant, as countdown_fr refuses it
