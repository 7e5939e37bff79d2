"""What the dashboards read from their read model (issue 20): `models.board` (`board_row`, one row per piece × structure
that sees it; `board_count`, counts and sums per bucket), kept in step by `operations.board` in the transaction of
each change. Every query here names the structure (`structure_id = …`: the read model's row-level security is the
same equality) and reads rows bounded by what the page shows:

- `lists`: the Synthèse's work list and the waiting panels (the partial index on what waits), the Tableau de bord's
  list (one index per sort, keyset pagination: the URL carries the last row seen, never an OFFSET into history) and
  the sous-traitant's payment tracker (its own pieces, newest first);
- `counts`: the Tableau de bord's counts and amounts (rollups when every filter is a rollup dimension; else at most
  `CAP` rows of board_row, « plus de 1 000 » beyond) and the sous-traitants' money (rollups by emitting party);
- `overview`: « Par statut » and « Par marché » of the unfiltered Tableau de bord, in one statement;
- `parties`: the companies the Tableau de bord names (its filter's offer, with the structure's own parties;
  « Montants par entreprise »);
- `cursor`: the keyset cursor, a pure encoding of (sort value, piece id).
"""
