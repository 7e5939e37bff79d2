"""The clocks of a billing chain, as data: how long each runs, when it starts, whom to remind, what its expiry does.

Why data: the figures come from the CCP, the CCAG Travaux and Chorus Pro guidance (CHORUS.md §5), some are marché
settings, and one is [assumed]; keeping them in `DEADLINES` lets them change in one place, and lets the sweep job,
the reminders, the dashboards and the export read the same rows.

Pure: every function takes `now` and the start instant as arguments (DESIGN.md §3 rule 3). The due instant is stored
as a column (`due_at`); the periodic sweep applies `expiry_action` to the rows that are due, exactly once.

Convention: calendar days, counted on aware UTC instants — a clock started at instant T for N days is due at
T + N × 24 h, **the same instant N days later** (in UTC: across a daylight-saving change the Paris wall-clock hour of
the due instant moves by one hour). A clock is expired when `now >= due_at`. No shift to the next working day: the
sources count calendar days, and a tacit acceptance on a Sunday is still an acceptance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from chorus_chain.domain.statuses import Status
from chorus_chain.domain.transitions import (
    EMITTER,
    STEP_MOA,
    STEP_MOE,
    STEP_PAIEMENT,
    STEP_VALIDATION_1,
    STEP_VALIDATION_2,
    TITULAIRE,
    Action,
    check_route,
)

DAY = timedelta(days=1)
_PARIS = ZoneInfo("Europe/Paris")

# Deadline kinds, as stored in `deadline.kind` (String(30)). "paiement" is the délai global de paiement (DGP): the
# export contract names it so.
VALIDATION_1 = "validation_1"
VALIDATION_2 = "validation_2"
MOE = "moe"
PAIEMENT = "paiement"
DC4 = "dc4_acceptance"  # the name `models.deadlines.DEADLINE_KINDS` already uses
CONTEST_MOE_CORRECTIONS = "contest_moe_corrections"
TACIT_DGD = "tacit_dgd"
DG_SIGNATURE = "dg_signature"
INTERETS = "interets_moratoires"  # the buyer pays the interest and the 40 € of a late payment (R2192-36)

# What a clock is about: a pièce (its expiry is a transition of the table) or a sous-traitant's DC4.
SUBJECT_PIECE = "piece"
SUBJECT_DC4 = "dc4_acceptance"  # the name `models.deadlines.DEADLINE_KINDS` already uses

# The system action on a DC4 whose clock expires (not a transition of a piece: the marché's chain changes).
ACCEPT_DC4_TACITLY = "accept_dc4_tacitly"

# Délai global de paiement by kind of public buyer (CHORUS.md §5) [sure]: the ceiling the marché may not exceed
# (CCP R2192-10, R2192-11: « ne peut être supérieur à »), and the usual value. A marché may set fewer days.
DGP_DAYS_BY_BUYER: dict[str, int] = {
    "etat": 30,
    "collectivite_territoriale": 30,
    "etablissement_public_de_sante": 50,
    "entreprise_publique": 60,
}
BUYER_LABELS: dict[str, str] = {
    "etat": "l'État et ses établissements publics",
    "collectivite_territoriale": "les collectivités territoriales et leurs établissements publics",
    "etablissement_public_de_sante": "les établissements publics de santé",
    "entreprise_publique": "les autres acheteurs (entreprises publiques)",
}
DGP_DAYS_MAX = max(DGP_DAYS_BY_BUYER.values())


@dataclass(frozen=True)
class DeadlineKind:
    """One kind of clock.

    - `days`: the duration by default; `allowed_days`: the values a marché may set instead (empty: fixed by law).
    - `starts`: in French, when the clock starts (for the help text).
    - `expiry_action`: what the system does when it expires (a transition of the table for a piece, or
      ACCEPT_DC4_TACITLY), or None when expiry changes no status (`expiry_effect` says what it means).
    - `reminders`: days before the due instant at which to remind `remind`; `alert_on_expiry`: who is told when it
      expires. Actors are the transition table's ("emitter", "moe", "titulaire"...).
    - `upcoming` / `overdue`: French phrases with `{delay}` ("3 jours", "un jour", "moins d'un jour") or
      `{de_delay}` ("de 3 jours", "d'un jour").
    - `running_in`: the statuses in which the clock of a piece runs (it opens when the piece enters them and is done
      when it leaves them, see `clock_changes`); empty for a clock the operations layer opens itself.
    - `cadres`: the cadres whose pieces have this clock (None: any).
    """

    kind: str
    label: str
    subject: str
    days: int
    starts: str
    expiry_action: str | None
    expiry_effect: str
    reminders: tuple[int, ...]
    remind: tuple[str, ...]
    alert_on_expiry: tuple[str, ...]
    upcoming: str
    overdue: str
    certainty: str = "sure"
    allowed_days: tuple[int, ...] = ()
    running_in: frozenset[Status] = field(default_factory=frozenset)
    cadres: frozenset[str] | None = None


_WORKS_BEFORE_PAYMENT = frozenset({
    Status.A_ASSOCIER_MOE, Status.PRISE_EN_COMPTE_MOE, Status.ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE,
    Status.A_ASSOCIER_MOA, Status.PRISE_EN_COMPTE_MOA,
})
# The DGP runs while the paying office holds the piece. Not while it is "à recycler": a misrouted piece was not
# received, its clock starts again when it is resent. It keeps running while suspended [assumed: the legal
# suspension of the DGP is not modelled].
_AT_PAYING_OFFICE = frozenset({
    Status.DEPOSEE, Status.MISE_A_DISPOSITION, Status.SUSPENDUE, Status.COMPLETEE, Status.SERVICE_FAIT,
    Status.MANDATEE,
})
# Every status a délai global de paiement runs in, whatever the route (`running_in` narrows it for a route).
PAIEMENT_STATUSES = _WORKS_BEFORE_PAYMENT | _AT_PAYING_OFFICE


def _validation(kind: str, step: str, waiting: Status, who: str) -> DeadlineKind:
    return DeadlineKind(
        kind=kind,
        label=f"Délai de validation ({who})",
        subject=SUBJECT_PIECE,
        days=15,
        starts=f"à l'arrivée de la pièce chez {who}",
        expiry_action=Action.TACIT_VALIDATION,
        expiry_effect="Silence gardé : la pièce est réputée acceptée et poursuit son circuit.",
        reminders=(3, 1),
        remind=(step,),
        alert_on_expiry=(EMITTER, step),
        upcoming="validation tacite dans {delay}",
        overdue="délai de validation dépassé {de_delay}",
        running_in=frozenset({waiting}),
    )


DEADLINES: dict[str, DeadlineKind] = {
    d.kind: d
    for d in (
        _validation(VALIDATION_1, STEP_VALIDATION_1, Status.A_VALIDER_1, "le donneur d'ordre"),
        _validation(VALIDATION_2, STEP_VALIDATION_2, Status.A_VALIDER_2, "le mandataire"),
        DeadlineKind(
            kind=MOE,
            label="Délai du maître d'œuvre pour l'état d'acompte",
            subject=SUBJECT_PIECE,
            days=7,
            allowed_days=tuple(range(1, 16)),  # a marché setting, never more than 15 days [sure]
            starts="à la réception du projet de décompte par le maître d'œuvre",
            expiry_action=Action.MOE_LATE,
            expiry_effect="Le maître d'œuvre est en retard : le titulaire et le maître d'ouvrage sont alertés, le "
                          "titulaire peut saisir directement le maître d'ouvrage.",
            reminders=(3, 1),
            remind=(STEP_MOE,),
            alert_on_expiry=(EMITTER, TITULAIRE, STEP_MOA),
            upcoming="état d'acompte attendu du maître d'œuvre dans {delay}",
            overdue="maître d'œuvre en retard {de_delay}",
            running_in=frozenset({Status.A_ASSOCIER_MOE, Status.PRISE_EN_COMPTE_MOE}),
        ),
        DeadlineKind(
            kind=PAIEMENT,
            label="Délai global de paiement",
            subject=SUBJECT_PIECE,
            days=30,
            allowed_days=tuple(range(1, DGP_DAYS_MAX + 1)),  # any number up to the buyer's ceiling (check_dgp_days)
            starts="à la réception par le maître d'œuvre (travaux) ou par l'acheteur",
            expiry_action=None,
            expiry_effect="Paiement en retard : les intérêts moratoires courent à partir du lendemain de "
                          "l'échéance, et l'indemnité forfaitaire de 40 € est due.",
            reminders=(5, 1),
            remind=(STEP_PAIEMENT,),
            alert_on_expiry=(EMITTER, STEP_PAIEMENT),
            upcoming="paiement attendu dans {delay}",
            overdue="paiement en retard {de_delay} : intérêts moratoires dus",
        ),
        DeadlineKind(
            kind=DC4,
            label="Acceptation du sous-traitant (DC4)",
            subject=SUBJECT_DC4,
            days=21,
            starts="à la réception de la déclaration de sous-traitance par l'acheteur",
            expiry_action=ACCEPT_DC4_TACITLY,
            expiry_effect="Silence de l'acheteur : le sous-traitant et ses conditions de paiement sont acceptés.",
            reminders=(5, 1),
            remind=(STEP_MOA,),
            alert_on_expiry=(TITULAIRE, STEP_MOA),
            upcoming="acceptation tacite du sous-traitant dans {delay}",
            overdue="sous-traitant accepté tacitement depuis {delay}",
        ),
        DeadlineKind(
            kind=CONTEST_MOE_CORRECTIONS,
            label="Contestation des corrections du maître d'œuvre",
            subject=SUBJECT_PIECE,
            days=30,
            starts="à la notification de l'état d'acompte dont le maître d'œuvre a corrigé les montants",
            expiry_action=None,
            expiry_effect="Les montants corrigés par le maître d'œuvre ne peuvent plus être contestés.",
            reminders=(7, 1),
            remind=(EMITTER,),
            alert_on_expiry=(EMITTER,),
            upcoming="fin du délai de contestation dans {delay}",
            overdue="délai de contestation expiré depuis {delay}",
        ),
        DeadlineKind(
            kind=TACIT_DGD,
            label="Délai du maître d'ouvrage après le projet de décompte général tacite (A22)",
            subject=SUBJECT_PIECE,
            days=10,
            starts="à la réception du projet de décompte général (A22) par le maître d'ouvrage",
            expiry_action=Action.TACIT_DGD,
            expiry_effect="Aucun décompte général notifié : le projet du titulaire devient le décompte général "
                          "et définitif ; le titulaire peut déposer le DGD tacite (A23).",
            reminders=(3, 1),
            remind=(STEP_MOA,),
            alert_on_expiry=(TITULAIRE, STEP_MOA),
            upcoming="décompte général et définitif tacite dans {delay}",
            overdue="décompte général et définitif tacite acquis depuis {delay}",
            running_in=frozenset({Status.A_ASSOCIER_MOA, Status.PRISE_EN_COMPTE_MOA}),
            cadres=frozenset({"A22"}),
        ),
        DeadlineKind(
            kind=DG_SIGNATURE,
            label="Signature du décompte général par le titulaire",
            subject=SUBJECT_PIECE,
            days=30,
            certainty="assumed",  # CCAG Travaux 2021 (45 days under CCAG 2009)
            starts="à la notification du décompte général au titulaire",
            expiry_action=Action.TACIT_DG_ACCEPTANCE,
            expiry_effect="Silence du titulaire : le décompte général est réputé accepté et devient définitif.",
            reminders=(7, 1),
            remind=(TITULAIRE,),
            alert_on_expiry=(TITULAIRE, STEP_MOA),
            upcoming="acceptation tacite du décompte général dans {delay}",
            overdue="décompte général accepté tacitement depuis {delay}",
            running_in=frozenset({Status.A_ASSOCIER_FOURNISSEUR}),
        ),
        DeadlineKind(
            # R2192-36 code de la commande publique: the interest and the flat fee are paid within 45 days of the
            # principal's payment. Opened by the operations when a late payment is recorded
            # (`operations.interets.clock`), due at the end of the 45th day after the payment day
            # (`interest_payment_due_at`), done when the paying office records the interest paid.
            kind=INTERETS,
            label="Paiement des intérêts moratoires et de l'indemnité forfaitaire",
            subject=SUBJECT_PIECE,
            days=45,
            starts="à la mise en paiement du principal payé en retard",
            expiry_action=None,
            expiry_effect="Les intérêts moratoires et l'indemnité forfaitaire devaient être payés dans les 45 jours "
                          "suivant le paiement du principal : ils restent dus et sont repris au projet de décompte "
                          "final s'ils ne sont pas payés avant.",
            reminders=(7, 1),
            remind=(STEP_PAIEMENT,),
            alert_on_expiry=(EMITTER, TITULAIRE, STEP_MOA, STEP_PAIEMENT),
            upcoming="intérêts moratoires à payer dans {delay}",
            overdue="intérêts moratoires impayés, délai dépassé {de_delay}",
        ),
    )
}
DEADLINE_KINDS: tuple[str, ...] = tuple(DEADLINES)
"""Every kind: what the CHECK constraint on `deadline.kind` allows."""
KIND_MAX_LENGTH = max(len(kind) for kind in DEADLINE_KINDS)


class DeadlineSettingError(ValueError):
    """A duration a marché may not set; `str(exc)` is French."""


def _kind(kind: str) -> DeadlineKind:
    try:
        return DEADLINES[kind]
    except KeyError:
        raise ValueError(f"unknown deadline kind {kind!r}") from None


def _aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), not {value!r}")
    return value.astimezone(timezone.utc)


def duration(kind: str, days: int | None = None) -> int:
    """The number of days of a clock: the kind's default, or a marché setting among `allowed_days`."""
    spec = _kind(kind)
    if days is None or days == spec.days:
        return spec.days
    if isinstance(days, bool) or not isinstance(days, int) or days not in spec.allowed_days:
        if not spec.allowed_days:
            raise DeadlineSettingError(f"Le délai « {spec.label} » est fixé à {spec.days} jours : il ne se "
                                       "modifie pas.")
        if kind == PAIEMENT:
            raise DeadlineSettingError(f"Le délai global de paiement va de 1 à {DGP_DAYS_MAX} jours au plus selon "
                                       "l'acheteur.")
        raise DeadlineSettingError(
            f"Le délai « {spec.label} » doit être compris entre {min(spec.allowed_days)} et "
            f"{max(spec.allowed_days)} jours."
        )
    return days


def due_at(kind: str, start: datetime, *, days: int | None = None) -> datetime:
    """The due instant of a clock of `kind` started at `start`: the same instant `days` calendar days later, in
    UTC (see the module docstring). `days` is a marché setting where the kind allows one (moe, paiement)."""
    return _aware("start", start) + duration(kind, days) * DAY


def interest_payment_due_at(principal_paid_on: date) -> datetime:
    """The due instant of the INTERETS clock: the interest of a payment made on `principal_paid_on` may be paid
    through the 45th day after it (R2192-36: « dans un délai de quarante-cinq jours suivant la mise en paiement du
    principal »): the clock is due at the last instant of that day, Paris time (23:59:59.999999, so that the pages
    and the countdown name the 45th day, not the next one) — a legal date fixed by the payment day, whenever the
    payment was recorded. Returned in UTC."""
    if not isinstance(principal_paid_on, date) or isinstance(principal_paid_on, datetime):
        raise ValueError(f"principal_paid_on must be a date, not {principal_paid_on!r}")
    last_day = principal_paid_on + timedelta(days=DEADLINES[INTERETS].days)
    return paris_midnight(last_day + timedelta(days=1)) - timedelta(microseconds=1)


def paris_midnight(day: date) -> datetime:
    """The instant a Paris calendar day starts, in UTC."""
    return datetime.combine(day, time(0), tzinfo=_PARIS).astimezone(timezone.utc)


def is_expired(due: datetime, now: datetime) -> bool:
    """True from the due instant on (the sweep applies the expiry action then)."""
    return _aware("now", now) >= _aware("due_at", due)


def days_left(due: datetime, now: datetime) -> int:
    """Whole days left before the due instant (floor); negative when overdue (-1 in the first day after it)."""
    return (_aware("due_at", due) - _aware("now", now)) // DAY


def _delay(whole: int) -> tuple[str, str]:
    """`whole` days as the phrases say them."""
    if whole < 1:
        return "moins d'un jour", "de moins d'un jour"
    if whole == 1:
        return "un jour", "d'un jour"
    return f"{whole} jours", f"de {whole} jours"


@lru_cache(maxsize=4096)
def _phrase(kind: str, upcoming: bool, whole: int) -> str:
    """A countdown's phrase: it depends on the kind, on the side of the due instant and on the whole days alone, so
    it is formatted once per process for each."""
    spec = _kind(kind)
    delay, de_delay = _delay(whole)
    return (spec.upcoming if upcoming else spec.overdue).format(delay=delay, de_delay=de_delay)


class Countdowns:
    """The countdowns of clocks read at one instant `now` — a page's: `now` in UTC and its day in Paris taken once,
    not for each clock (the Tableau de bord writes some forty countdowns a page, each converting `now` twice to
    UTC and once to Paris time: bench/page_cpu.py). `countdown_fr` and `is_expired` are the same rules for one
    clock."""

    __slots__ = ("now", "today")

    def __init__(self, now: datetime) -> None:
        self.now = _aware("now", now)
        # Days to a due instant are counted from today to its day, both as Paris reads them: a deadline on the 21st
        # is « dans 15 jours » on the 6th, whatever the hours — never rounded down to the day before.
        self.today = self.now.astimezone(_PARIS).date()

    def expired(self, due: datetime) -> bool:
        """True from the due instant on (the sweep applies the expiry action then)."""
        return self.now >= _aware("due_at", due)

    def text(self, kind: str, due: datetime) -> str:
        """A short French phrase for dashboards: "validation tacite dans 3 jours", "maître d'œuvre en retard de 2
        jours". Before the due instant, the days are calendar days to its day (Paris), so the countdown never names
        an earlier day than the deadline's ("moins d'un jour" on its day); after it, whole days elapsed."""
        _kind(kind)
        due_utc = _aware("due_at", due)
        if self.now < due_utc:
            return _phrase(kind, True, (due_utc.astimezone(_PARIS).date() - self.today).days)
        return _phrase(kind, False, (self.now - due_utc) // DAY)


def countdown_fr(kind: str, due: datetime, now: datetime) -> str:
    """A clock's countdown at `now` (`Countdowns.text`: many clocks at one instant read `now` once)."""
    _kind(kind)
    return Countdowns(now).text(kind, due)


def reminders_due(
    kind: str, due: datetime, now: datetime, *, sent: Iterable[int] = (), start: datetime | None = None
) -> tuple[int, ...]:
    """The reminders (days before the due instant) that are due at `now` and not `sent` yet, most urgent first.

    A reminder is due from `due_at - offset` until the clock expires. When a sweep ran late and several are due,
    send one message (the first, the most urgent) and record them all as sent, so nobody gets a stale "3 days
    left" after a "1 day left". With `start`, reminders that would fall before the clock started are skipped (a
    3-day reminder makes no sense on a 2-day clock)."""
    spec = _kind(kind)
    due_utc, now_utc = _aware("due_at", due), _aware("now", now)
    start_utc = _aware("start", start) if start is not None else None
    already = set(sent)
    if now_utc >= due_utc:
        return ()
    due_offsets = [
        offset for offset in spec.reminders
        if offset not in already
        and due_utc - offset * DAY <= now_utc
        and (start_utc is None or due_utc - offset * DAY > start_utc)
    ]
    return tuple(sorted(due_offsets))


def expiry_action(kind: str) -> str | None:
    """The system action the sweep applies when a clock of `kind` expires, or None (dgp: late-payment interest
    starts; contest_moe_corrections: the corrected amounts stand — no status change)."""
    return _kind(kind).expiry_action


def check_dgp_days(days: int, buyer_kind: str) -> None:
    """A marché's délai global de paiement: any whole number of days from 1 up to its buyer's ceiling (30 for the
    State and local authorities, 50 for public hospitals, 60 for other buyers; CCP R2192-10, R2192-11). Refused with
    the French message the user reads."""
    ceiling = dgp_days(buyer_kind)
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise DeadlineSettingError("Le délai global de paiement est un nombre entier de jours, 1 au moins.")
    if days > ceiling:
        raise DeadlineSettingError(
            f"Le délai global de paiement est de {ceiling} jours au plus pour {BUYER_LABELS[buyer_kind]} "
            f"({days} jours demandés) : le marché peut prévoir moins, jamais plus.")


def dgp_days(buyer_kind: str) -> int:
    """The délai global de paiement of a kind of public buyer, its ceiling (30 State and local authorities, 50 public
    hospitals, 60 public companies)."""
    try:
        return DGP_DAYS_BY_BUYER[buyer_kind]
    except KeyError:
        raise ValueError(f"unknown buyer kind {buyer_kind!r}") from None


# ---------------------------------------------------------------------------------------------------------------------
# Which clocks a transition opens and closes


@dataclass(frozen=True)
class ClockChanges:
    """The kinds of clock a transition opens (insert a row with its due_at) and closes (set done_at)."""

    opened: tuple[str, ...] = ()
    closed: tuple[str, ...] = ()


# The validated état d'acompte (A19) continues the DGP of the projets de décompte it pays: each payable line's
# delay runs from the MOE's receipt of its first projet (issue 12), so the A19 opens no clock of its own.
CONTINUING_CADRES = frozenset({"A19"})


def running_in(kind: str, route_steps: Sequence[str], *, cadre: str | None = None) -> frozenset[Status]:
    """The statuses in which a clock of `kind` runs for a piece of this route and cadre (empty: none, or a clock
    the operations layer opens itself — dc4, contest_moe_corrections).

    The DGP ("paiement") of a works piece runs from the MOE's receipt to the payment; of any other piece, from its
    arrival at the paying office. A piece whose route reaches the MOA without the MOE (an état d'acompte deposited
    by the MOE) continues a dossier whose DGP already runs on its first piece: it gets no clock of its own."""
    return _running_in(kind, tuple(route_steps), cadre)


# Kept per (kind, route, cadre): a handful of routes and cadres, asked for every clock kind at every transition (the
# deadline sweep: ten times per deadline, each checking the route again — bench/deadline_sweep.py's profile). A bad
# route raises each time (an exception is not kept).
@lru_cache(maxsize=1024)
def _running_in(kind: str, route_steps: tuple[str, ...], cadre: str | None) -> frozenset[Status]:
    spec = _kind(kind)
    steps = check_route(route_steps)
    if spec.cadres is not None and cadre not in spec.cadres:
        return frozenset()
    if kind != PAIEMENT:
        return spec.running_in
    if STEP_PAIEMENT not in steps or cadre in CONTINUING_CADRES:
        return frozenset()
    if STEP_MOE in steps:
        return _WORKS_BEFORE_PAYMENT | _AT_PAYING_OFFICE
    if STEP_MOA in steps:
        return frozenset()
    return _AT_PAYING_OFFICE


def counts_after_expiry(kind: str, status: str) -> bool:
    """Whether a clock of `kind` the sweep ended at its due instant is still the piece's clock as the pages show it
    (its next clock, the panels' clocks): the délai global de paiement while the piece is in a status it runs in.
    Its expiry is no action (`expiry_action` None): nothing on the piece changes, the payment is still awaited and
    now late, and the pages show it overdue — its due instant against now — as they did between that instant and
    the sweep. So the sweep's expiry of a DGP moves nothing in the read model (issue 20: 52 306 of the 81 916
    deadlines of bench/deadline_sweep.py, each of which rewrote every viewer's board row of its piece). Mirrored in
    SQL by `operations.pieces_queries.counting_clock`."""
    return kind == PAIEMENT and str(status) in _PAIEMENT_STATUS_VALUES


_PAIEMENT_STATUS_VALUES = frozenset(status.value for status in PAIEMENT_STATUSES)


def clock_changes(
    from_status: str, to_status: str, route_steps: Sequence[str], *, cadre: str | None = None
) -> ClockChanges:
    """Which clocks open and close when a piece goes from `from_status` to `to_status`: a clock opens when the
    piece enters the statuses it runs in, and is done when it leaves them (whoever made it leave: the actor, or the
    sweep applying the expiry action)."""
    before, after = Status(from_status), Status(to_status)
    opened, closed = [], []
    for kind in DEADLINE_KINDS:
        running = running_in(kind, route_steps, cadre=cadre)
        if after in running and before not in running:
            opened.append(kind)
        elif before in running and after not in running:
            closed.append(kind)
    return ClockChanges(tuple(opened), tuple(closed))

