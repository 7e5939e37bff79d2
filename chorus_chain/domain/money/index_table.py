"""Monthly index values (BT01, TP02...) with their provisional/definitive status.

Why: price revision needs the index of each month (CHORUS.md §5 "Price revision"), and the MOE often has to use a
provisional value that is trued up when the definitive one is published (§6b, revision true-up). The table is plain
data the MOE fills (§9: "real marchés enter their own index values"); `parse_index_csv` reads the shape of
`data/bt01_index.csv` (month, value column named after the index, status, source) from text, `load_index_csv` from
an explicit path. No other I/O.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path

from chorus_chain.domain.money.rounding import MoneyError, check_month, month_fr, of_month_fr, require_decimal


class IndexStatus(Enum):
    """Whether a value may still change. Only a definitive value closes a month's revision for good."""

    PROVISIONAL = "provisional"
    DEFINITIVE = "definitive"


# The words found in the status column of index files. "published" is how data/bt01_index.csv marks the values taken
# from the published INSEE series: we treat them as definitive.
STATUS_WORDS: dict[str, IndexStatus] = {
    "provisional": IndexStatus.PROVISIONAL,
    "provisoire": IndexStatus.PROVISIONAL,
    "p": IndexStatus.PROVISIONAL,
    "definitive": IndexStatus.DEFINITIVE,
    "definitif": IndexStatus.DEFINITIVE,
    "définitif": IndexStatus.DEFINITIVE,
    "published": IndexStatus.DEFINITIVE,
    "publié": IndexStatus.DEFINITIVE,
    "d": IndexStatus.DEFINITIVE,
}


class MissingIndexError(MoneyError):
    """The index of a month the computation needs is not in the table; the message names the month."""

    def __init__(self, index: str, month: str, purpose: str) -> None:
        super().__init__(
            f"Indice {index} manquant pour le mois {of_month_fr(month)} ({month}) : il est nécessaire pour "
            f"{purpose}. Saisissez sa valeur (provisoire si l'indice définitif n'est pas encore publié).",
            field="index",
        )
        self.index = index
        self.month = month


@dataclass(frozen=True)
class IndexValue:
    """The value of an index for one month, and its status."""

    month: str
    value: Decimal
    status: IndexStatus = IndexStatus.DEFINITIVE

    def __post_init__(self) -> None:
        check_month(self.month)
        require_decimal(self.value, "value")
        if self.value <= 0:
            raise MoneyError(f"Valeur d'indice invalide pour {month_fr(self.month)} : {self.value}.", field="value")
        if not isinstance(self.status, IndexStatus):
            raise TypeError(f"status: IndexStatus expected, got {self.status!r}")

    @property
    def definitive(self) -> bool:
        return self.status is IndexStatus.DEFINITIVE


@dataclass(frozen=True)
class IndexTable:
    """The values of one index, at most one per month. Immutable: `with_value` returns a new table (the MOE entering a
    provisional value, or the definitive value replacing it)."""

    name: str
    values: tuple[IndexValue, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(sorted(self.values, key=lambda v: v.month)))
        months = [v.month for v in self.values]
        duplicates = sorted({m for m in months if months.count(m) > 1})
        if duplicates:
            raise MoneyError(
                f"Indice {self.name} : plusieurs valeurs pour {', '.join(month_fr(m) for m in duplicates)}.",
                field="index",
            )

    def find(self, month: str) -> IndexValue | None:
        for value in self.values:
            if value.month == month:
                return value
        return None

    def get(self, month: str, purpose: str = "la révision des prix") -> IndexValue:
        """The value of `month`, or a French error naming the month."""
        found = self.find(check_month(month))
        if found is None:
            raise MissingIndexError(self.name, month, purpose)
        return found

    def with_value(self, month: str, value: Decimal, status: IndexStatus) -> IndexTable:
        """A copy with `month` set (added or replaced)."""
        kept = tuple(v for v in self.values if v.month != month)
        return IndexTable(self.name, kept + (IndexValue(month, value, status),))


def parse_index_csv(text: str, name: str = "BT01", value_column: str | None = None) -> IndexTable:
    """Read the shape of data/bt01_index.csv: columns `month`, the value (column `value_column`, by default the index
    name in lower case, e.g. `bt01`), and optionally `status` (see STATUS_WORDS; definitive when absent)."""
    reader = csv.DictReader(io.StringIO(text))
    column = value_column or name.lower()
    fields = reader.fieldnames or []
    if "month" not in fields or column not in fields:
        raise MoneyError(
            f"Fichier d'indices {name} : colonnes « month » et « {column} » attendues (trouvé : {', '.join(fields)}).",
            field="index",
        )
    values = []
    for number, row in enumerate(reader, start=2):
        raw_status = (row.get("status") or "definitive").strip().lower()
        if raw_status not in STATUS_WORDS:
            raise MoneyError(f"Fichier d'indices {name}, ligne {number} : statut inconnu « {raw_status} ».")
        try:
            value = Decimal(row[column].strip())
        except (InvalidOperation, AttributeError):
            raise MoneyError(
                f"Fichier d'indices {name}, ligne {number} : valeur illisible « {row[column]} »."
            ) from None
        values.append(IndexValue(row["month"].strip(), value, STATUS_WORDS[raw_status]))
    return IndexTable(name, tuple(values))


def load_index_csv(path: str | Path, name: str = "BT01", value_column: str | None = None) -> IndexTable:
    """`parse_index_csv` on a file given explicitly (UTF-8)."""
    return parse_index_csv(Path(path).read_text(encoding="utf-8"), name, value_column)
