"""The sous-traitant's payment tracker (the Tableau de bord's panel « où en est votre argent »): what it reads.

`reading` reads the structure's own sent pieces with every fact of each the panel shows in one statement, and their
events in a second; `operations.dashboard.payment_tracker` turns them into milestones and asks the Trésorerie when
the money is expected.
"""
