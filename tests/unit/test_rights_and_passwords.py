from chorus_chain.domain import rights
from chorus_chain.domain.passwords import MIN_LENGTH, password_problems


def test_modification_covers_consultation_and_none_covers_nothing():
    assert rights.allows("modification", "consultation")
    assert rights.allows("consultation", "consultation")
    assert not rights.allows("consultation", "modification")
    assert not rights.allows("none", "consultation")


def test_the_gestionnaire_principal_holds_every_right():
    member = {d: "none" for d in rights.DOMAINS}
    assert rights.effective_rights(member, is_gestionnaire=True) == {d: "modification" for d in rights.DOMAINS}
    assert rights.effective_rights(member, is_gestionnaire=False) == member


def test_password_policy():
    assert password_problems("une phrase assez longue") == []
    assert any(str(MIN_LENGTH) in p for p in password_problems("court"))
    assert password_problems("azertyuiop123") == ["Ce mot de passe est trop facile à deviner."]
    assert password_problems("jean.dupont-2026!", email="jean.dupont@exemple.fr") == [
        "Le mot de passe ne doit pas contenir votre adresse e-mail."]
    assert password_problems("x" * 129 + "abcde")[0].startswith("Le mot de passe ne peut pas dépasser")
