"""One package per area of the product; each exposes `bp`."""
from flask import Flask


def register_blueprints(app: Flask) -> None:
    from chorus_chain.blueprints.accounts.views import bp as accounts_bp
    from chorus_chain.blueprints.api_clients.views import bp as api_clients_bp
    from chorus_chain.blueprints.assistant.views import bp as assistant_bp
    from chorus_chain.blueprints.assistant.views import operator_bp as chat_operator_bp
    from chorus_chain.blueprints.auth.views import bp as auth_bp
    from chorus_chain.blueprints.bordereau.views import bp as bordereau_bp
    from chorus_chain.blueprints.avenants.views import bp as avenants_bp
    from chorus_chain.blueprints.core.views import bp as core_bp
    from chorus_chain.blueprints.dashboard.views import bp as dashboard_bp
    from chorus_chain.blueprints.decompte_general.views import bp as decompte_general_bp
    from chorus_chain.blueprints.documents.views import bp as documents_bp
    from chorus_chain.blueprints.etats.views import bp as etats_bp
    from chorus_chain.blueprints.help.reform import bp as reform_bp
    from chorus_chain.blueprints.jobs.views import bp as operator_jobs_bp
    from chorus_chain.blueprints.help.views import bp as help_bp
    from chorus_chain.blueprints.help.views import structure_bp as structure_help_bp
    from chorus_chain.blueprints.support.views import bp as support_bp
    from chorus_chain.blueprints.support.views import operator_bp
    from chorus_chain.blueprints.marches.views import bp as marches_bp
    from chorus_chain.blueprints.marches.views import invitation_bp
    from chorus_chain.blueprints.marches.interest import bp as marche_interest_bp
    from chorus_chain.blueprints.notifications.views import bp as notifications_bp
    from chorus_chain.blueprints.organisation.views import bp as organisation_bp
    from chorus_chain.blueprints.pieces.views import bp as pieces_bp
    from chorus_chain.blueprints.pieces_import.views import bp as pieces_import_bp
    from chorus_chain.blueprints.rates.views import bp as rates_bp
    from chorus_chain.blueprints.tresorerie.views import bp as tresorerie_bp

    for bp in (core_bp, auth_bp, accounts_bp, organisation_bp, marches_bp, invitation_bp, pieces_bp, pieces_import_bp,
               notifications_bp, dashboard_bp, help_bp, structure_help_bp, reform_bp,
               support_bp, operator_bp, operator_jobs_bp, rates_bp, marche_interest_bp, documents_bp, bordereau_bp, avenants_bp, etats_bp, decompte_general_bp, api_clients_bp,
               assistant_bp, chat_operator_bp, tresorerie_bp):
        app.register_blueprint(bp)
    from chorus_chain.blueprints.money_clauses.views import bp as money_clauses_bp
    app.register_blueprint(money_clauses_bp)
