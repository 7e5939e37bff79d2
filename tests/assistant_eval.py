"""The assistant's evaluation set: questions as users type them (typos, no accents, numbers typed loosely), asked
as every role of the demo, each with what a correct answer must contain. Shared by
tests/integration/test_assistant_eval.py (which asserts the targets) and bench/assistant.py (which prints the
figures).

What an answer must contain is read from the demo's own data when the test runs (the piece's status label, the
name of whoever must act, the due day of its running clock, the reason recorded with its refusal, its payment):
never a hard-coded date or status, so the set follows the demo when the demo changes.

Checks (see `judge`):
- "piece:<number>"  the answer is about that piece (and names its number);
- "status"          …and gives its status as the pages label it;
- "waiting"         …and who must act now (a structure's name);
- "deadline"        …and the due day of its running clock (validation, MOE, DGP…);
- "reason"          …and the reason recorded when it came into its status;
- "paid"            …and its payment (day and amount);
- "article:<a>|<b>" the answer cites one of these help articles;
- "link:<endpoint>" the answer links to this page;
- "says:<words>"    the answer's text contains these words (accents and case aside);
- "unknown"         it says it does not know / finds no such piece, and tells nothing of any piece;
- "ask_back"        it asks which one;
- "handover"        it hands over to an agent.
An answer that fails its checks while claiming to answer (kind "answered") is *wrong with confidence*; one that
says it does not know or asks back when it should have answered is only *not answered*.
"""
from __future__ import annotations

from dataclasses import dataclass

EXTRA = "compta.durand@demo.chorus-chain.fr"  # the mandataire's second member (works invoices only)


@dataclass(frozen=True)
class Case:
    who: str  # a demo company key, or an e-mail of EXTRA_MEMBERS
    question: str
    expect: tuple[str, ...]


def _c(who, question, *expect):
    return Case(who, question, expect)


CASES: tuple[Case, ...] = (
    # --- Plâtrerie Leroy (sous-traitante rang 1, A10) ----------------------------------------------------------
    _c("st_platrerie", "ou en est ma facture PL-2026-002 ?", "piece:PL-2026-002", "status", "waiting"),
    _c("st_platrerie", "bonjour, ou en est la pl 2026 002 svp", "piece:PL-2026-002", "status", "deadline"),
    _c("st_platrerie", "qui doit valider ma facture PL-2026-2", "piece:PL-2026-002", "waiting", "deadline"),
    _c("st_platrerie", "quand est ce que je serai paye pour la PL-2026-002", "piece:PL-2026-002", "status"),
    _c("st_platrerie", "et si le mandataire ne repond pas pour pl2026002 ?", "piece:PL-2026-002", "deadline",
       "says:reputee acceptee"),
    _c("st_platrerie", "ou en est PL-2026-001", "piece:PL-2026-001", "status", "waiting"),
    _c("st_platrerie", "quand vais je etre paye pour la PL-2026-001", "piece:PL-2026-001", "deadline"),
    _c("st_platrerie", "statut de la facture pl-2026-001 ?", "piece:PL-2026-001", "status"),
    _c("st_platrerie", "ou en est la facture de mon sous traitant PP-2026-001", "piece:PP-2026-001", "status"),
    _c("st_platrerie", "ou en est la DB-PDM-01", "unknown"),
    _c("st_platrerie", "pourquoi la ME-2026-001 est refusee", "unknown"),
    _c("st_platrerie", "c'est quoi l'autoliquidation", "article:autoliquidation"),
    _c("st_platrerie", "comment on fait pour deposer un projet de decompte mensuel",
       "article:deposer-projet-decompte|deposer-une-facture"),
    _c("st_platrerie", "c est quoi le paiment direct", "article:paiement-direct"),
    _c("st_platrerie", "je veux parler a un conseiller", "handover"),
    # --- Durand Bâtiment (mandataire, A4) ----------------------------------------------------------------------
    _c("mandataire", "ou en est ma facture DB-PDM-01", "piece:DB-PDM-01", "status"),
    _c("mandataire", "quand ai je ete paye pour DB-PDM-01 ?", "piece:DB-PDM-01", "paid"),
    _c("mandataire", "la DB PDM 1 a ete payee combien ?", "piece:DB-PDM-01", "paid"),
    _c("mandataire", "ou en est DB-PDM-03", "piece:DB-PDM-03", "status", "deadline"),
    _c("mandataire", "quand sera payee la DB-PDM-03 ?", "piece:DB-PDM-03", "deadline"),
    _c("mandataire", "qui doit traiter ma DB-2026-004 ?", "piece:DB-2026-004", "waiting", "deadline"),
    _c("mandataire", "ou en est la db-2026-004, le moe a combien de temps ?", "piece:DB-2026-004", "deadline"),
    _c("mandataire", "et si le maitre d oeuvre ne fait rien pour DB-2026-004", "piece:DB-2026-004", "deadline",
       "says:en retard"),
    _c("mandataire", "pourquoi j'ai refuse la ME-2026-001 deja ?", "piece:ME-2026-001", "reason"),
    _c("mandataire", "qui doit valider la MB-2026-001 ?", "piece:MB-2026-001", "waiting"),
    _c("mandataire", "ou en est la PL-2026-002 de la platrerie", "piece:PL-2026-002", "status", "waiting"),
    _c("mandataire", "ou en sont mes factures sur DEMO-TRAVAUX-2026", "link:marches.show"),
    _c("mandataire", "c'est quoi la retenue de garantie", "article:retenue-de-garantie"),
    _c("mandataire", "comment declarer un sous traitant", "article:declarer-un-sous-traitant"),
    _c("mandataire", "comment valider la facture d un sous-traitant",
       "article:repondre-validation"),
    _c("mandataire", "comment changer mon mot de passe", "article:mot-de-passe"),
    _c("mandataire", "comment ajouter un colegue a ma structure",
       "article:rattacher-des-collegues|rejoindre-une-structure|droits-des-utilisateurs"),
    _c("mandataire", "ou en est la facture XZ-9999-123", "unknown"),
    _c("mandataire", "ou en est la PP-2026-001 de la peinture", "unknown"),  # a private invoice: not its to read
    _c("mandataire", "ou en est la facture ME-2026-003", "unknown"),
    # --- Martin Électricité (co-traitant, A13) -----------------------------------------------------------------
    _c("cotraitant", "pourquoi ma facture ME-2026-001 a ete refusee ?", "piece:ME-2026-001", "status", "reason"),
    _c("cotraitant", "que dois je faire pour la me 2026 001 refusee", "piece:ME-2026-001",
       "says:nouveau numero"),
    _c("cotraitant", "qui doit valider la facture de bernard MB-2026-001", "piece:MB-2026-001", "waiting"),
    _c("cotraitant", "ou en est la MB-2026-01", "piece:MB-2026-001", "status"),
    _c("cotraitant", "ou en est la DB-PDM-02", "unknown"),
    _c("cotraitant", "ou en est la PL-2026-001", "unknown"),
    _c("cotraitant", "c'est quoi un groupement conjoint", "article:groupement-cotraitants"),
    _c("cotraitant", "comment emettre un avoir", "article:avoir"),
    # --- Menuiserie Bernard (sous-traitante du co-traitant) ----------------------------------------------------
    _c("st_menuiserie", "ou en est ma facture MB-2026-001 ?", "piece:MB-2026-001", "status", "waiting"),
    _c("st_menuiserie", "qui doit valider ma mb2026001", "piece:MB-2026-001", "waiting", "deadline"),
    _c("st_menuiserie", "quand vais je etre payee pour MB-2026-001", "piece:MB-2026-001", "status"),
    _c("st_menuiserie", "ou en est la ME-PDM-02", "unknown"),
    _c("st_menuiserie", "ou en est la facture PL-2026-002", "unknown"),
    _c("st_menuiserie", "c'est quoi le dc4", "article:declarer-un-sous-traitant|paiement-direct"),
    _c("st_menuiserie", "comment changer mon iban", "article:coordonnees-bancaires"),
    # --- Peinture Petit (rang 2, facture privée) ---------------------------------------------------------------
    _c("st_peinture", "ou en est ma facture PP-2026-001", "piece:PP-2026-001", "status"),
    _c("st_peinture", "quand serai je paye pour PP-2026-001 ?", "piece:PP-2026-001", "says:facture privee"),
    _c("st_peinture", "qui doit me payer pour la pp 2026 001", "piece:PP-2026-001", "status"),
    _c("st_peinture", "ou en est la PL-2026-001", "unknown"),
    _c("st_peinture", "je suis sous traitant de rang 2, comment je facture",
       "article:facture-privee-sous-traitant"),
    # --- Nettoyage Moreau (petite sous-traitante, rien déposé) -------------------------------------------------
    _c("st_nettoyage", "ou en est la DB-PDM-01", "unknown"),
    _c("st_nettoyage", "ou en est ma facture PL-2026-002", "unknown"),
    _c("st_nettoyage", "comment deposer une facture", "article:deposer-une-facture|facture-privee-sous-traitant"),
    _c("st_nettoyage", "moins de 600 euros je suis paye par qui", "article:facture-privee-sous-traitant|paiement-direct"),
    # --- Atelier Lumen (maître d'œuvre) -------------------------------------------------------------------------
    _c("moe", "ou en est la DB-2026-004", "piece:DB-2026-004", "status", "deadline"),
    _c("moe", "combien de temps j ai pour l etat d acompte de DB-2026-004", "piece:DB-2026-004", "deadline"),
    _c("moe", "qui doit traiter la PL-2026-001 maintenant", "piece:PL-2026-001", "waiting"),
    _c("moe", "ou en est la PP-2026-001", "unknown"),
    _c("moe", "c'est quoi un etat d'acompte", "article:etat-d-acompte"),
    _c("moe", "comment contester les corrections du moe", "article:contester-corrections-moe"),
    # --- Commune (maître d'ouvrage et service financier) --------------------------------------------------------
    _c("moa", "qui doit agir sur la DB-PDM-03 ?", "piece:DB-PDM-03", "waiting"),
    _c("moa", "quand doit on payer la DB-PDM-03 ?", "piece:DB-PDM-03", "deadline"),
    _c("moa", "ou en est la PL-2026-001 de leroy", "piece:PL-2026-001", "status", "waiting"),
    _c("moa", "ou en est la PP-2026-001", "unknown"),
    _c("moa", "les factures du 51201318600014", "piece:PL-2026-002|PL-PDM-02|PL-2026-001", "ask_back"),
    _c("moa", "c'est quoi les interets moratoires", "article:interets-moratoires"),
    _c("moa", "comment creer un marche", "article:creer-un-marche"),
    _c("moa", "que veut dire mise a disposition", "says:service financier"),
    _c("moa", "que signifie le statut mandatee", "says:comptable public"),
    _c("moa", "que veut dire a recycler", "article:piece-a-recycler"),
    _c("moa", "c est quoi le cadre A10", "article:cadres-de-facturation"),
    # --- The mandataire's accountant (works invoices only) -----------------------------------------------------
    _c(EXTRA, "ou en est la DB-2026-004", "piece:DB-2026-004", "status"),
    _c(EXTRA, "quand serons nous payes pour DB-PDM-03", "piece:DB-PDM-03", "deadline"),
    # --- Anything else --------------------------------------------------------------------------------------------
    _c("mandataire", "quel temps fera t il demain a angers", "unknown"),
    _c("cotraitant", "ou en est ma facture ?", "ask_back"),
    _c("moe", "merci beaucoup", "says:avec plaisir"),
    _c("st_platrerie", "quelle est la recette de la tarte tatin", "unknown"),
)

# Written after the assistant was tuned on CASES, and measured once before any change (the report says how it did):
# a check that the set did not only teach the assistant its own questions.
HELD_OUT: tuple[Case, ...] = (
    _c("st_platrerie", "bjr ma facture pl-2026-002 elle en est ou", "piece:PL-2026-002", "status"),
    _c("st_platrerie", "la PL-2026-001 va etre payee quand exactement", "piece:PL-2026-001", "deadline"),
    _c("mandataire", "combien j'ai touche pour la DB-PDM-01", "piece:DB-PDM-01", "paid"),
    _c("mandataire", "est ce que le moe a traite la DB-2026-004", "piece:DB-2026-004", "status", "waiting"),
    _c("mandataire", "je dois valider la facture MB-2026-001 de bernard avant quand", "piece:MB-2026-001",
       "deadline"),
    _c("cotraitant", "ma ME-2026-001 a ete refusee par qui", "piece:ME-2026-001", "says:Durand"),
    _c("st_menuiserie", "le cotraitant a valide ma facture MB-2026-001 ?", "piece:MB-2026-001", "status"),
    _c("st_peinture", "la platrerie m'a paye pour PP-2026-001 ?", "piece:PP-2026-001", "status"),
    _c("moe", "delai pour emettre l'etat d'acompte de la DB-2026-004", "piece:DB-2026-004", "deadline"),
    _c("moa", "qui est le valideur de la PL-2026-002", "piece:PL-2026-002", "waiting"),
    _c("moa", "la ME-2026-001 c'est quoi le probleme", "piece:ME-2026-001", "reason"),
    _c("st_nettoyage", "ou en est la MB-2026-001", "unknown"),
    _c("cotraitant", "ou en est la DB-PDM-01 du mandataire", "unknown"),
    _c("mandataire", "c'est quoi la revision des prix", "article:revision-des-prix"),
    _c("st_platrerie", "comment on ajoute un rib", "article:coordonnees-bancaires"),
    _c("moa", "comment on donne les droits a un collegue",
       "article:droits-des-utilisateurs|rattacher-des-collegues"),
    _c("moe", "c'est quoi le decompte general et definitif", "article:reception-et-decompte-final|dgd-tacite"),
    _c("mandataire", "j'ai oublie mon mot de passe", "article:mot-de-passe"),
    _c("st_menuiserie", "qu'est ce que l'autoliquidation de tva", "article:autoliquidation"),
    _c("moa", "que se passe t il si je ne paie pas dans les 30 jours", "article:interets-moratoires|delais"),
    _c("st_platrerie", "puis je parler a quelqu un", "handover"),
    _c("mandataire", "ma facture suspendue ?", "article:piece-suspendue"),
    _c("st_peinture", "quel est le statut de ma facture", "ask_back"),
)


# ---------------------------------------------------------------------------------------------------------------------
# Running and judging (inside an app context, on a database seeded with the demo)

CORRECT = "correct"
WRONG = "wrong_with_confidence"
NOT_ANSWERED = "not_answered"


@dataclass(frozen=True)
class Verdict:
    case: Case
    outcome: str
    answer: object
    problems: tuple[str, ...]
    seconds: float


def asker(who: str):
    """(structure, can_read) of a demo company's gestionnaire, or of a member by e-mail — with that member's
    rights, as `tenancy.load_structure_for_current_user` computes them."""
    from sqlalchemy import select

    from chorus_chain import demo
    from chorus_chain.domain import rights as rights_rules
    from chorus_chain.extensions import db
    from chorus_chain.models import Account, Rattachement, Structure

    if "@" in who:
        key = next(k for k, email, *_ in demo.EXTRA_MEMBERS if email == who)
        email = who
    else:
        key, email = who, next(c.email for c in demo.COMPANIES if c.key == who)
    siret = next(c.siret for c in demo.COMPANIES if c.key == key)
    structure = db.session.scalar(select(Structure).where(Structure.siret == siret))
    account = db.session.scalar(select(Account).where(Account.email == email))
    membership = db.session.scalar(select(Rattachement).where(Rattachement.account_id == account.id,
                                                              Rattachement.structure_id == structure.id))
    rights = rights_rules.effective_rights(membership.rights(), structure.gestionnaire_id == account.id)
    return structure, (lambda domain: rights_rules.allows(rights.get(domain, "none"), "consultation"))


def _plain(text: str) -> str:
    from chorus_chain.help_articles.text import fold

    return " ".join(fold(text).replace("\u202f", " ").replace("\u00a0", " ").replace("'", " ").split())


def _truth(number: str, now):
    """What the pages say of a demo piece (read across tenants: this is the examiner, not the assistant)."""
    from sqlalchemy import select

    from chorus_chain import demo, formatting
    from chorus_chain.access import system_access
    from chorus_chain.blueprints.pieces import display
    from chorus_chain.domain import statuses
    from chorus_chain.extensions import db
    from chorus_chain.models import Deadline, Piece, PieceEvent, Structure
    from chorus_chain.operations.pieces_actions import who_acts

    from chorus_chain import demo_money

    # A demo piece, or one of the projets de décompte of the demo's three months (their prefix names the company).
    scenario = next((s.key for s in demo.DEMO_PIECES if s.number == number), None)
    key = scenario or next(k for k, prefix in demo_money.NUMBER_PREFIX.items() if number.startswith(prefix + "-"))
    emitter = next(c.siret for c in demo.COMPANIES if c.key == key)
    with system_access("assistant evaluation: the expected facts"):
        piece = db.session.scalar(select(Piece).join(Structure, Structure.id == Piece.emitter_structure_id)
                                  .where(Piece.number == number, Structure.siret == emitter))
        waiting = [db.session.get(Structure, sid).name for sid in who_acts(piece)]
        clocks = db.session.scalars(select(Deadline).where(Deadline.piece_id == piece.id,
                                                           Deadline.done_at.is_(None))
                                    .order_by(Deadline.due_at)).all()
        event = db.session.scalars(select(PieceEvent).where(PieceEvent.piece_id == piece.id,
                                                            PieceEvent.to_status == piece.status,
                                                            PieceEvent.from_status != piece.status)
                                   .order_by(PieceEvent.seq.desc())).first()
        reason = [x for x in (display.reason_text(event.reason), event.comment) if x] if event else []
        return {
            "id": piece.id,
            "status": statuses.label(piece.status),
            "waiting": waiting,
            "deadlines": [formatting.day(c.due_at, "long") for c in clocks],
            "deadline": [],
            "reason": reason,
            "paid": ([formatting.day(piece.paid_on, "long"), formatting.money(piece.paid_amount)]
                     if piece.paid_on else []),
        }


def judge(case: Case, answer, now) -> tuple[str, tuple[str, ...]]:
    from chorus_chain.assistant import ANSWERED, ASK_BACK, HANDOVER, UNKNOWN

    text = _plain(answer.text)
    problems = []
    pieces = [e.split(":", 1)[1].split("|") for e in case.expect if e.startswith("piece:")]
    truths = {}
    for options in pieces:
        for number in options:
            truths[number] = _truth(number, now)
        if not any(truths[n]["id"] in answer.piece_ids and _plain(n) in text for n in options):
            problems.append(f"not about {'/'.join(options)}")
    chosen = [truths[n] for options in pieces for n in options if truths[n]["id"] in answer.piece_ids]
    for check in case.expect:
        name, _, arg = check.partition(":")
        if name == "piece":
            continue
        if name == "unknown":
            if answer.kind != UNKNOWN or answer.piece_ids:
                problems.append("should say it finds nothing")
        elif name == "ask_back":
            if answer.kind != ASK_BACK:
                problems.append("should ask back")
        elif name == "handover":
            if answer.kind != HANDOVER:
                problems.append("should hand over")
        elif name == "article":
            if not set(arg.split("|")) & set(answer.articles):
                problems.append(f"no article {arg} (got {answer.articles})")
        elif name == "link":
            if not any(link.endpoint == arg for link in answer.links):
                problems.append(f"no link to {arg}")
        elif name == "says":
            if _plain(arg) not in text:
                problems.append(f"does not say « {arg} »")
        elif name in ("status", "waiting", "deadline", "reason", "paid"):
            for truth in chosen[:1]:
                wanted = {"status": [truth["status"]], "deadline": truth["deadlines"]}.get(name) or truth[name]
                if name in ("status", "reason", "paid"):
                    missing = [w for w in wanted if _plain(w).rstrip(".") not in text]
                    if not wanted or missing:
                        problems.append(f"{name}: missing {missing or 'nothing to say'}")
                elif not wanted or not any(_plain(w) in text for w in wanted):
                    problems.append(f"{name}: none of {wanted}")
        else:
            raise ValueError(f"unknown check {check!r}")
    if not problems:
        return CORRECT, ()
    confident = answer.kind in (ANSWERED,) or (answer.kind == UNKNOWN and "unknown" not in case.expect
                                                and bool(answer.piece_ids))
    return (WRONG if confident else NOT_ANSWERED), tuple(problems)


def run(now=None, cases=None) -> list[Verdict]:
    """Ask every question of the set (default: CASES and HELD_OUT) as its asker; judge each answer."""
    import time

    from chorus_chain.access import tenant
    from chorus_chain.assistant import answer
    from chorus_chain.models.base import utcnow

    now = now or utcnow()
    verdicts = []
    for case in (CASES + HELD_OUT) if cases is None else cases:
        structure, can_read = asker(case.who)
        with tenant(structure.id):
            started = time.perf_counter()
            reply = answer(case.question, structure, can_read, now)
            seconds = time.perf_counter() - started
        outcome, problems = judge(case, reply, now)
        verdicts.append(Verdict(case, outcome, reply, problems, seconds))
    return verdicts
