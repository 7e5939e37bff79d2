"""The assistant's answers, in French, from facts already read (pure: no Flask, no database).

An answer is one to three sentences of plain text (the templates escape it) and links, each a `Link` to an endpoint
the view turns into an address (`url_for`), so this module stays pure and every link goes to a real page.
Kinds: ANSWERED (a fact or an article that answers), ASK_BACK (several pieces match, or which one?), UNKNOWN (it
does not know: the panel offers an agent, and the question goes to the operators' list), HANDOVER (the user asked
for a person), CHAT (hello, thank you).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from chorus_chain import formatting
from chorus_chain.assistant.facts import PieceFacts
from chorus_chain.domain import deadlines as clocks
from chorus_chain.domain import statuses
from chorus_chain.domain import transitions as T
from chorus_chain.domain.statuses import Status

ANSWERED = "answered"
ASK_BACK = "ask_back"
UNKNOWN = "unknown"
HANDOVER = "handover"
CHAT = "chat"


@dataclass(frozen=True)
class Link:
    label: str
    endpoint: str
    values: tuple[tuple[str, object], ...] = ()

    @classmethod
    def to(cls, label: str, endpoint: str, **values) -> Link:
        return cls(label, endpoint, tuple(sorted(values.items())))


@dataclass(frozen=True)
class Answer:
    kind: str
    text: str
    links: tuple[Link, ...] = ()
    piece_ids: tuple[int, ...] = ()
    articles: tuple[str, ...] = ()
    failed: bool = False  # the question itself was not understood: the operators' list of articles to write
    facts: tuple[PieceFacts, ...] = field(default=(), compare=False, repr=False)

    @property
    def confident(self) -> bool:
        return self.kind == ANSWERED


def piece_link(facts: PieceFacts) -> Link:
    return Link.to(f"Pièce n° {facts.number}", "pieces.show", piece_id=facts.id)


def article_link(slug: str, title: str) -> Link:
    return Link.to(title, "structure_help.article", slug=slug)


STATUS_ARTICLES = {
    Status.A_RECYCLER: "piece-a-recycler",
    Status.SUSPENDUE: "piece-suspendue",
    Status.COMPLETEE: "piece-suspendue",
    Status.REJETEE: "piece-rejetee",
    Status.REFUSEE_1: "piece-rejetee", Status.REFUSEE_2: "piece-rejetee", Status.REFUSEE_MOE: "piece-rejetee",
    Status.REFUSEE_MOA: "piece-rejetee", Status.REFUSEE_CONTRACTANT: "piece-rejetee",
    Status.A_VALIDER_1: "repondre-validation", Status.A_VALIDER_2: "repondre-validation",
}


def _day(value) -> str:
    return formatting.day(value, "long")


def _money(value) -> str:
    return formatting.money(value)


def _name(facts: PieceFacts) -> str:
    kind = facts.kind_label[:1].lower() + facts.kind_label[1:]
    if facts.own:
        return f"votre pièce n° {facts.number} ({kind}, {facts.marche_reference})"
    return f"la pièce n° {facts.number} de {facts.emitter_name} ({kind}, {facts.marche_reference})"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _clock_sentence(facts: PieceFacts) -> str:
    """The clock that matters now: its due day, the countdown, and what happens if nobody acts."""
    running = [c for c in facts.clocks if c.kind != clocks.PAIEMENT] or list(facts.clocks)
    if not running:
        return ""
    clock = running[0]
    effect = clock.expiry_effect[:1].lower() + clock.expiry_effect[1:]
    if clock.overdue:
        return f"Échéance dépassée depuis le {_day(clock.due_at)} ({clock.countdown}) : {effect}"
    if clock.kind == clocks.PAIEMENT:
        return f"Paiement dû au plus tard le {_day(clock.due_at)} ({clock.countdown}) ; au-delà, {effect}"
    return f"Échéance le {_day(clock.due_at)} ({clock.countdown}) ; sans réponse d'ici là, {effect}"


def _waiting_sentence(facts: PieceFacts) -> str:
    if facts.draft:
        return "Elle n'est pas envoyée : personne d'autre ne la voit tant que vous ne l'avez pas envoyée."
    if facts.waiting_on_me:
        return f"C'est à vous d'agir ({facts.waiting.rstrip('.')})."
    if T.current_step(facts.status) is None:
        return "Son traitement est terminé."
    return f"Elle attend : {facts.waiting}"


def where(facts: PieceFacts) -> Answer:
    parts = [f"{_cap(_name(facts))} est « {facts.status_label} ».", _waiting_sentence(facts)]
    clock = _clock_sentence(facts)
    if clock:
        parts.append(clock)
    elif facts.paid and facts.paid_on:
        parts.append(_paid_sentence(facts))
    return _piece_answer(facts, " ".join(parts))


def who(facts: PieceFacts) -> Answer:
    if facts.draft or T.current_step(facts.status) in (None,):
        return where(facts)
    parts = [f"{_cap(_name(facts))} est « {facts.status_label} ».", _waiting_sentence(facts)]
    clock = _clock_sentence(facts)
    if clock:
        parts.append(clock)
    return _piece_answer(facts, " ".join(parts))


_FIX = {
    Status.A_RECYCLER: ("Corrigez seulement le SIRET du destinataire, le code service ou le numéro d'engagement "
                        "juridique, puis renvoyez-la sous le même numéro (« Corriger l'acheminement et "
                        "renvoyer… » sur la page de la pièce)."),
    Status.SUSPENDUE: ("Ajoutez les pièces demandées depuis la page de la pièce (« Compléter ») : le service "
                       "financier reprend alors le traitement."),
    Status.ERREUR_FOURNISSEUR_SUR_VALIDEUR: "Corrigez le valideur puis renvoyez la pièce.",
    Status.ERREUR_COTRAITANT_SUR_VALIDEUR: "Corrigez le valideur puis renvoyez la pièce.",
}


def why(facts: PieceFacts) -> Answer:
    code = statuses.as_status(facts.status)
    parts = [f"{_cap(_name(facts))} est « {facts.status_label} »."]
    if facts.reason or facts.comment:
        given = " — ".join(x for x in (facts.reason, facts.comment) if x).rstrip(".")
        parts.append(f"Motif indiqué{f' par {facts.reason_by}' if facts.reason_by else ''} : « {given} ».")
    if facts.refused_for_good:
        parts.append("Elle ne sera pas payée : " + ("émettez une nouvelle pièce, avec un nouveau numéro."
                                                    if facts.own else "son émetteur doit en émettre une nouvelle, "
                                                    "avec un nouveau numéro."))
    elif code in _FIX:
        parts.append(_FIX[code] if facts.own or facts.waiting_on_me else
                     f"C'est à son émetteur d'agir : {_FIX[code][:1].lower()}{_FIX[code][1:]}")
    elif not (facts.reason or facts.comment):
        parts.append(facts.explanation)
        clock = _clock_sentence(facts)
        if clock:
            parts.append(clock)
    return _piece_answer(facts, " ".join(parts))


def _paid_sentence(facts: PieceFacts) -> str:
    amount = f" : {_money(facts.paid_amount)}" if facts.paid_amount is not None else ""
    return f"Elle a été payée le {_day(facts.paid_on)}{amount}."


def when_paid(facts: PieceFacts) -> Answer:
    code = statuses.as_status(facts.status)
    head = f"{_cap(_name(facts))} est « {facts.status_label} »."
    dgp = facts.clock(clocks.PAIEMENT)
    if facts.paid and facts.paid_on:
        text = f"{head} {_paid_sentence(facts)}"
    elif code == Status.ASSOCIEE:
        text = f"{head} {facts.explanation}"
    elif facts.refused_for_good:
        text = (f"{head} Elle ne sera pas payée : "
                + ("émettez une nouvelle pièce, avec un nouveau numéro." if facts.own
                   else "son émetteur doit en émettre une nouvelle."))
    elif facts.draft:
        text = (f"{head} Rien ne court tant qu'elle n'est pas envoyée : le délai de paiement commence à sa "
                "réception.")
    elif code == Status.A_RECYCLER:
        text = (f"{head} Le délai global de paiement ne court pas tant qu'elle est à recycler ; il repart quand "
                "elle est renvoyée.")
    elif dgp is not None:
        if dgp.overdue:
            text = (f"{head} Le paiement était attendu au plus tard le {_day(dgp.due_at)} (délai global de "
                    f"paiement de {facts.dgp_days} jours) : {dgp.countdown}. {dgp.expiry_effect}")
        else:
            text = (f"{head} Le délai global de paiement de {facts.dgp_days} jours court : paiement attendu au plus "
                    f"tard le {_day(dgp.due_at)} ({dgp.countdown}).")
    elif code in (Status.TRANSMISE_CONTRACTANT, Status.ACCEPTEE_CONTRACTANT):
        text = (f"{head} C'est une facture privée : l'entreprise donneuse d'ordre la paie elle-même, selon votre "
                "contrat de sous-traitance ; chorus-chain enregistre le paiement quand elle le déclare.")
    else:
        first = ("la réception par le maître d'œuvre" if T.STEP_MOE in facts.route_steps
                 else "l'arrivée au service financier")
        clock = _clock_sentence(facts)
        text = (f"{head} {_waiting_sentence(facts)} Le délai global de paiement de {facts.dgp_days} jours court à "
                f"partir de {first}.{(' ' + clock) if clock else ''}")
    return _piece_answer(facts, text)


def _piece_answer(facts: PieceFacts, text: str) -> Answer:
    links = [piece_link(facts)]
    slug = STATUS_ARTICLES.get(statuses.as_status(facts.status))
    articles = ()
    if slug:
        from chorus_chain.help_articles import BY_SLUG

        links.append(article_link(slug, BY_SLUG[slug].title))
        articles = (slug,)
    return Answer(ANSWERED, text, tuple(links), (facts.id,), articles, facts=(facts,))


def several(typed: str | None, found: list[PieceFacts]) -> Answer:
    listed = " ; ".join(f"n° {f.number} de {f.emitter_name} (« {f.status_label} »)" for f in found)
    head = (f"Plusieurs pièces portent le numéro {typed}" if typed else "Plusieurs de vos pièces correspondent")
    return Answer(ASK_BACK, f"{head} : {listed}. Laquelle ? Précisez son numéro (ou ouvrez-la).",
                  tuple(piece_link(f) for f in found), tuple(f.id for f in found))


def no_such_piece(typed: str) -> Answer:
    """The same words whether the number does not exist or belongs to a piece this structure may not see."""
    return Answer(UNKNOWN, f"Je ne trouve aucune pièce n° {typed} parmi celles que votre structure peut consulter. "
                           "Vérifiez le numéro (il figure sur la facture), ou cherchez-la dans vos pièces.",
                  (Link.to("Pièces émises", "pieces.emises"), Link.to("Pièces reçues", "pieces.recues")))


def which_piece() -> Answer:
    return Answer(ASK_BACK, "De quelle pièce parlez-vous ? Donnez-moi son numéro (par exemple « où en est ma "
                            "facture F-2026-012 ? »), ou posez la question depuis la page de la pièce.",
                  (Link.to("Pièces à traiter", "pieces.a_traiter"), Link.to("Pièces émises", "pieces.emises")))


def none_in_status(words: str) -> Answer:
    return Answer(UNKNOWN, f"Je ne trouve aucune pièce {words} parmi celles que votre structure peut consulter.",
                  (Link.to("Pièces émises", "pieces.emises"),))


def status_meaning(codes: list[Status]) -> Answer:
    from chorus_chain.help_articles import BY_SLUG

    infos = [statuses.STATUS_INFO[c] for c in codes[:2]]
    text = " ".join(f"« {i.label} » : {i.explanation}" for i in infos)
    slug = STATUS_ARTICLES.get(codes[0], "statuts-des-pieces")
    return Answer(ANSWERED, text, (article_link(slug, BY_SLUG[slug].title),), (), (slug,))


def cadre_meaning(code: str, label: str) -> Answer:
    from chorus_chain.help_articles import BY_SLUG

    slug = "cadres-de-facturation"
    return Answer(ANSWERED, f"Le cadre {code} est : « {label} ». Le cadre dit qui dépose la pièce et par où elle "
                            "passe avant le paiement.", (article_link(slug, BY_SLUG[slug].title),), (), (slug,))


def marche_summary(reference: str, marche_id: int, counts: dict[str, int], waiting_on_me: int) -> Answer:
    total = sum(counts.values())
    if not total:
        text = f"Vous n'avez encore aucune pièce sur le marché {reference}."
    else:
        detail = ", ".join(f"{n} « {label} »" for label, n in sorted(counts.items(), key=lambda kv: -kv[1])[:4])
        text = (f"Sur le marché {reference}, vous voyez {total} pièce{'s' if total > 1 else ''} : {detail}. "
                f"{waiting_on_me} attend{'ent' if waiting_on_me > 1 else ''} votre action.")
    return Answer(ANSWERED, text, (Link.to(f"Marché {reference}", "marches.show", marche_id=marche_id),
                                   Link.to("Pièces à traiter", "pieces.a_traiter")))


def from_article(slug: str, title: str, summary: str, also=()) -> Answer:
    sentences = _sentences(summary, 2)
    links = [article_link(slug, title)] + [article_link(a.slug, a.title) for a in also]
    more = "".join(f" Voir aussi « {a.title} »." for a in also)
    return Answer(ANSWERED, f"{sentences} (Aide : « {title} ».){more}", tuple(links), (),
                  (slug, *(a.slug for a in also)))


def _sentences(text: str, count: int, limit: int = 420) -> str:
    out, rest = [], text.strip()
    while rest and len(out) < count:
        cut = rest.find(". ")
        if cut < 0:
            out.append(rest)
            break
        out.append(rest[:cut + 1])
        rest = rest[cut + 2:]
    text = " ".join(out)
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def unknown() -> Answer:
    return Answer(UNKNOWN, "Je ne sais pas répondre à cette question. Un agent peut vous aider : cliquez sur "
                           "« Discuter avec un agent » — il verra cette conversation.", failed=True)


def handover() -> Answer:
    return Answer(HANDOVER, "Je vous mets en relation avec un agent : cliquez sur « Discuter avec un agent ». Il "
                            "verra notre conversation et la page où vous êtes.")


def greeting() -> Answer:
    return Answer(CHAT, "Bonjour ! Posez-moi une question sur vos pièces (« où en est ma facture F-2026-012 ? », "
                        "« quand serai-je payé ? ») ou sur l'utilisation de chorus-chain.")


def thanks() -> Answer:
    return Answer(CHAT, "Avec plaisir. Une autre question ?")
