"""The Synthèse's reads: the work list in one statement (`reading`)."""
