"""« Trésorerie » (issue 19): when will the money arrive, and how much — for every structure of the chain.

- `stages`: the stages a piece's money goes through (validation, maître d'œuvre, maître d'ouvrage, paying office,
  a contractor paying a private invoice), which status means which stage, and each stage's legal default. Pure.
- `habits`: what a counterpart actually took on each stage, learnt from the history of events (median and spread).
  Pure.
- `forecast`: the expected payment date of one amount, its range and its explanation; the naive forecast « legal
  deadline from today » the back-test compares it with. Pure.
- `periods`: week by week for three months, then month by month; the alerts. Pure.
- `reading`: the only module that reads the database — what the structure may see, through `access.py`, in a fixed
  number of queries.
- `exports`: the CSV and XLSX downloads.
- `slips`: the daily alert « an expected receipt slips by more than a week » (run by the clock, once a day; the
  reference days in `ExpectedReceipt`).
"""
