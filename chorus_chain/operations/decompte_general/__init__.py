"""The décompte général as documents (issue 12, end of contract; CHORUS.md §3 "End of contract"):

    projet de décompte final (A7 / A14, the companies) → final état (the MOE admits and issues it)
    → projet de décompte général (A17, `pdg`: the MOE, from the issued final état, to the MOA)
    → décompte général (A20, `dg`: the MOA signs it and notifies it to the titulaire, who has 30 days)
    → signature (`signature`: without reservations, or with them and the mémoire en réclamation)
    → décompte général et définitif (A8, to the paying office), paid line by line like a validated état
      (`operations.etat_pieces.paying`): the lines are the final état's payables, the engine's solde per payee.

- `rows`: the `DecompteGeneral` row of a final état, read or locked;
- `reading`: what each structure sees of it on the pages (the whole for the public side and the holder; the others
  only that it exists, and their own line through `etat_pieces.reading`).

The tacit branch (A22 → 10 days → A23) stays on the piece pages (`transitions`, `deadlines.TACIT_DGD`): the titulaire
replaces the MOE's pending A17 with its A22 when the MOA is silent, and this page says so.

Import arrows: this package calls `operations.etats_acompte` and `operations.etat_pieces`; neither imports it.
"""
