"""The deadline sweep at volume (issue 20): the due deadlines applied batch by batch, each batch in a transaction of
its own, through the very steps the one-by-one path takes (`operations.deadlines.in_batches` / `apply_due`,
`operations.pieces_deadlines`).

`context.SweepContext` answers, for a batch, the reads every deadline's steps make — the pieces locked in one
statement, their open clocks and next event numbers, their marchés, whom to tell — and holds what they write to the end
of the batch, where it is written set-based, a statement per table (`operations.bulk`); the batch's e-mails go out as
one per person (`operations.mail_digest`).
The loop is `deadlines.in_batches` (select a batch with SKIP LOCKED, apply it, yield); the clock (`jobs.clock.tick`)
commits after each batch.
"""
from chorus_chain.operations.sweep.context import OpenClocks, SweepContext

__all__ = ["OpenClocks", "SweepContext"]
