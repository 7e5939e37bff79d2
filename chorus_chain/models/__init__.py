"""All models, imported here so that Alembic and the app see one metadata."""
from chorus_chain.models.accounts import Account, LoginSession
from chorus_chain.models.contests import StructureContest
from chorus_chain.models.api import ApiCall, ApiClient, ApiIdempotencyKey, ApiToken, DepositBatch
from chorus_chain.models.audit import StructureEvent
from chorus_chain.models.board import (BoardCadreMarcheCount, BoardCount, BoardMarcheCount, BoardMoneyDelta,
                                     BoardMoneyLine, BoardMoneyTotal, BoardPartyCount, BoardRow, BoardStatusCount,
                                     BoardStatusMarcheCount)
from chorus_chain.models.base import Base
from chorus_chain.models.chat import Conversation, ConversationMessage
from chorus_chain.models.deadlines import ClockState, Deadline
from chorus_chain.models.decompte_general import DecompteGeneral
from chorus_chain.models.documents import GeneratedDocument
from chorus_chain.models.invitations import InvitationRequest
from chorus_chain.models.etat_pieces import EtatAcomptePdm, LinePayment, PayableLine
from chorus_chain.models.marches import Dc4Avenant, Marche, MarcheAvenant, MarcheEvent, MarcheParty
from chorus_chain.models.messaging import MailMessage, OutboxJob
from chorus_chain.models.money_clauses import AvanceRepaymentAmount, RetenueGuarantee
from chorus_chain.models.money import (
    Decompte,
    DecompteLine,
    EtatAcompte,
    IndexValue,
    InterestRate,
    MarchePenalty,
    PriceLine,
)
from chorus_chain.models.notifications import Notification, NotificationPreference
from chorus_chain.models.pieces import Piece, PieceAccess, PieceEvent, PieceFile, StoredFile
from chorus_chain.models.support import Ticket, TicketMessage
from chorus_chain.models.tresorerie import ExpectedReceipt
from chorus_chain.models.webhooks import WebhookDelivery, WebhookSubscription
from chorus_chain.models.structures import (
    BankAccount,
    Rattachement,
    Service,
    ServiceMember,
    Structure,
)

__all__ = [
    "BoardCadreMarcheCount",
    "BoardCount",
    "BoardMarcheCount",
    "BoardMoneyDelta",
    "BoardMoneyLine",
    "BoardMoneyTotal",
    "BoardPartyCount",
    "BoardRow",
    "BoardStatusCount",
    "BoardStatusMarcheCount",
    "ExpectedReceipt",
    "AvanceRepaymentAmount",
    "RetenueGuarantee",
    "WebhookDelivery",
    "WebhookSubscription",
    "Account",
    "LoginSession",
    "StructureContest",
    "InvitationRequest",
    "ApiCall",
    "ApiClient",
    "ApiIdempotencyKey",
    "ApiToken",
    "DepositBatch",
    "BankAccount",
    "Base",
    "Conversation",
    "ConversationMessage",
    "Dc4Avenant",
    "MarcheAvenant",
    "ClockState",
    "Deadline",
    "Decompte",
    "DecompteLine",
    "EtatAcompte",
    "EtatAcomptePdm",
    "LinePayment",
    "PayableLine",
    "GeneratedDocument",
    "IndexValue",
    "InterestRate",
    "MarchePenalty",
    "PriceLine",
    "MailMessage",
    "Marche",
    "MarcheEvent",
    "MarcheParty",
    "Notification",
    "NotificationPreference",
    "OutboxJob",
    "Piece",
    "PieceAccess",
    "PieceEvent",
    "PieceFile",
    "Rattachement",
    "Service",
    "ServiceMember",
    "StoredFile",
    "Structure",
    "Ticket",
    "TicketMessage",
    "StructureEvent",
]
