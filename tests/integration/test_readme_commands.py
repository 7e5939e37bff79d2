"""The README's `flask …` commands work as written in a clone after `make run`: run each one, as a user would from the
repository, on a fresh embedded database, with nothing in the environment but what `make run` leaves behind (.env)."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from chorus_chain import demo

REPO = Path(__file__).resolve().parents[2]
FLASK = Path(sys.executable).with_name("flask")


def readme_commands() -> list[str]:
    """Every `flask …` command the README names, optional parts ([…]) left out, placeholders given a demo value."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    commands = []
    for command in re.findall(r"`(flask [^`]+)`", text):
        command = re.sub(r"\s*\[[^\]]*\]", "", command).replace("EMAIL", demo.COMPANIES[0].email)
        if command not in commands:
            commands.append(command)
    return commands


def test_the_readme_names_its_commands():
    commands = readme_commands()
    for expected in ("flask demo seed", "flask deadlines sweep", "flask audit verify",
                     "flask marche export DEMO-TRAVAUX-2026"):
        assert expected in commands
    assert not any(c.startswith("flask run") for c in commands)  # make run serves; the README never asks for it


@pytest.fixture(scope="module")
def clone_env(tmp_path_factory):
    """The environment of a user's shell in the clone: no SECRET_KEY, no CHORUS_ENV, no FLASK_APP — what `make run`
    wrote (.env) is all there is; the embedded database is a fresh SQLite file of this test."""
    subprocess.run(["make", "-s", ".env"], cwd=REPO, check=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FLASK_", "CHORUS_")) and k not in {"SECRET_KEY", "REDIS_URL", "DATABASE_URL"}}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path_factory.mktemp('readme') / 'chorus.db'}"
    return env


def flask(env: dict, command: str) -> subprocess.CompletedProcess:
    args = shlex.split(command)
    assert args[0] == "flask"
    return subprocess.run([str(FLASK), *args[1:]], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def flask_in_one_process(env: dict, commands: list[str], tmp_path) -> list[subprocess.CompletedProcess]:
    """The commands one after the other in one process of the clone's Python (tests/integration/flask_commands.py:
    what the `flask` script does for each, without a dozen imports of the application — seconds each)."""
    results = tmp_path / "results.json"
    argv = [shlex.split(command)[1:] for command in commands]
    assert all(shlex.split(command)[0] == "flask" for command in commands)
    done = subprocess.run([sys.executable, str(REPO / "tests" / "integration" / "flask_commands.py"), str(results),
                           json.dumps(argv)], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return [subprocess.CompletedProcess(command, r["returncode"], r["stdout"], r["stderr"])
            for command, r in zip(commands, json.loads(results.read_text(encoding="utf-8")), strict=True)]


def test_every_readme_command_runs_in_the_clone(clone_env, tmp_path):
    upgrade = flask(clone_env, "flask db upgrade")  # what make run does first: the `flask` script itself, with .env
    assert upgrade.returncode == 0, upgrade.stderr
    commands = []
    for command in readme_commands():
        if " | " in command.replace("\\|", "|"):  # « replay ID… | --all-failed »: the alternative without ids
            head, _, option = command.replace("\\|", "|").partition(" | ")
            command = " ".join(head.split()[:3] + [option])
        if command == "flask deadlines clock":
            command += " --ticks 1"  # a process that runs until stopped (the Procfile's clock): one pass proves it
        commands.append(command)
        if command == "flask demo seed":
            # Right after seeding, no deadline of the demo has already run out: the sweep changes nothing.
            commands.append("flask deadlines sweep")
    ran = []
    for command, result in zip(commands, flask_in_one_process(clone_env, commands, tmp_path), strict=True):
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        assert "SECRET_KEY" not in result.stderr
        ran.append(command)
        if ran[-2:] == ["flask demo seed", "flask deadlines sweep"]:
            assert result.stdout.startswith("0 échéance(s) échue(s) traitée(s), dont 0 appliquée(s)"), result.stdout
    assert "flask demo seed" in ran and len(ran) >= 8


def test_production_still_refuses_to_start_without_a_secret_key(clone_env, tmp_path):
    """The .env is the clone's development setting; an environment that says production is not overridden by it."""
    env = {**clone_env, "CHORUS_ENV": "production"}
    result = flask(env, "flask rates list")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr
