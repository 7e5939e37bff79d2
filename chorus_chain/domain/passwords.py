"""Password policy: long enough to resist guessing, without arbitrary composition rules (ANSSI/NIST advice)."""
from __future__ import annotations

MIN_LENGTH = 12
MAX_LENGTH = 128

# The handful of passwords people pick when asked for twelve characters.
_COMMON = {
    "motdepasse123", "motdepasse1234", "azertyuiop12", "azertyuiop123", "123456789012", "password1234",
    "qwertyuiop12", "bonjour12345", "soleil123456", "chorus-chain", "chorusproprod",
}


def password_problems(password: str, email: str = "") -> list[str]:
    """French messages for everything wrong with a new password; empty when it is acceptable."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Le mot de passe doit compter au moins {MIN_LENGTH} caractères.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Le mot de passe ne peut pas dépasser {MAX_LENGTH} caractères.")
    if password.lower() in _COMMON or len(set(password)) < 5:
        problems.append("Ce mot de passe est trop facile à deviner.")
    local = email.split("@")[0].lower()
    if local and len(local) >= 4 and local in password.lower():
        problems.append("Le mot de passe ne doit pas contenir votre adresse e-mail.")
    return problems
