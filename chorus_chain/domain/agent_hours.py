"""The hours when agents answer the live chat, as a setting (`CHAT_HOURS`), and whether an instant falls in them.

Format, Paris time: « lun-ven 09:00-12:30 13:30-18:00 ; sam 09:00-12:00 » — groups separated by « ; », each a day or
a range of days (lun mar mer jeu ven sam dim) and one or more ranges of hours. « toujours » (always open) and
« jamais » (never: every hand-over becomes a ticket) are accepted. Pure: the caller passes `now`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
DAYS = ("lun", "mar", "mer", "jeu", "ven", "sam", "dim")
DAY_NAMES = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
DEFAULT = "lun-ven 09:00-18:00"


class HoursError(ValueError):
    """A setting that cannot be read (said at start-up, not to a user)."""


@dataclass(frozen=True)
class Hours:
    spec: str
    slots: tuple[tuple[int, time, time], ...]  # (weekday 0-6, start, end)
    always: bool = False

    def is_open(self, now: datetime) -> bool:
        if self.always:
            return True
        local = now.astimezone(PARIS)
        return any(day == local.weekday() and start <= local.time() < end for day, start, end in self.slots)

    def describe(self) -> str:
        """« du lundi au vendredi, de 09:00 à 18:00 » — for the message shown when nobody is there."""
        if self.always:
            return "à toute heure"
        if not self.slots:
            return "sur rendez-vous seulement"
        groups = [g.strip() for g in self.spec.split(";") if g.strip()]
        return " ; ".join(_describe_group(g) for g in groups)


def _describe_group(group: str) -> str:
    days, *ranges = group.split()
    if "-" in days:
        first, last = days.split("-")
        when = f"du {DAY_NAMES[DAYS.index(first)]} au {DAY_NAMES[DAYS.index(last)]}"
    else:
        when = f"le {DAY_NAMES[DAYS.index(days)]}"
    hours = " et ".join(f"de {_hour(r.split('-')[0])} à {_hour(r.split('-')[1])}" for r in ranges)
    return f"{when}, {hours}"


def _hour(text: str) -> str:
    """ "09:00" → "9 h", "12:30" → "12 h 30"."""
    hours, minutes = text.split(":")
    return f"{int(hours)} h" + (f" {minutes}" if minutes != "00" else "")


def _time(text: str) -> time:
    try:
        hours, minutes = text.split(":")
        return time(int(hours), int(minutes)) if text != "24:00" else time(23, 59, 59, 999999)
    except ValueError:
        raise HoursError(f"heure illisible : {text!r}") from None


def parse(spec: str | None) -> Hours:
    spec = (spec or DEFAULT).strip()
    if spec == "toujours":
        return Hours(spec, (), always=True)
    if spec == "jamais":
        return Hours(spec, ())
    slots = []
    for group in (g.strip() for g in spec.split(";")):
        if not group:
            continue
        days, *ranges = group.split()
        if not ranges:
            raise HoursError(f"aucune plage horaire dans {group!r}")
        first, _, last = days.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise HoursError(f"jour illisible dans {group!r}")
        span = range(DAYS.index(first), DAYS.index(last or first) + 1)
        for hours in ranges:
            start, sep, end = hours.partition("-")
            if not sep:
                raise HoursError(f"plage illisible : {hours!r}")
            begin, finish = _time(start), _time(end)
            if finish <= begin:
                raise HoursError(f"plage vide : {hours!r}")
            slots.extend((day, begin, finish) for day in span)
    return Hours(spec, tuple(slots))
