"""The état d'acompte travels as documents of its own (issue 12, CHORUS.md §3 "A4 … A15 … A19").

- `pieces`: the A15 the MOE's issue deposits, the A19 the MOA's validation deposits, and the platform's moves of the
  projets de décompte they carry (a PDM reaches the MOA and the paying office only inside an état);
- `moa`: the MOA validates the état as one document, or returns it to the MOE with a reason (the MOE issues it
  again as « n° 4 bis »);
- `lines`: the payable lines of a validated état, one per payee, carrying the engine's figures;
- `paying`: the paying office's service fait, mandat and payments per line, with the late-payment interest;
- `reading`: what each structure may see of them (a company sees its own line only).

Import arrows: `operations.etats_acompte` (the MOE's état) calls `pieces.deposit_a15`; nothing here imports it.
"""
