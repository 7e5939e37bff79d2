from chorus_chain.extensions import db
from chorus_chain.models import Account
from tests import factories


def test_operator_grant_and_revoke(app, db):
    acc = factories.account(app, email="support@exemple.fr")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["operator", "grant", "support@exemple.fr"])
    assert result.exit_code == 0 and "est désormais opérateur" in result.output
    with app.app_context():
        assert db.session.get(Account, acc.id).is_operator is True
    result = runner.invoke(args=["operator", "grant", "support@exemple.fr", "--revoke"])
    with app.app_context():
        assert db.session.get(Account, acc.id).is_operator is False
    result = runner.invoke(args=["operator", "grant", "personne@exemple.fr"])
    assert result.exit_code != 0 and "Aucun compte" in result.output
