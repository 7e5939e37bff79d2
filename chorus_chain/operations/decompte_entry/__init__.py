"""A works piece starts from its décompte: choose the marché, the title and the month, then enter the cumul per line
(`start`); the piece is sent from the décompte when nothing stops it (`readiness`)."""
