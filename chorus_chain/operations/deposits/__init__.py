"""Deposits of many pieces at once (the API's « flux ») through the portal's own operations (issue 17).

`context.DepositContext` holds what every deposit of one structure in one request reads — its bank accounts, the
recipients and their services, the files and the next event number of the pieces it creates, who is told of a
deposit — read once and held (the session's identity map is weak: a row nobody holds is read again). The portal's
`create_draft` and `deposit` build one of their own for a single piece; a batch shares one for all its pieces.
"""
from chorus_chain.operations.deposits.context import DepositContext

__all__ = ["DepositContext"]
