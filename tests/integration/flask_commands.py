"""Run several `flask …` commands one after the other in ONE Python process, as the `flask` script runs each
(`flask.cli.main`: the same click group, the same .env loading, the same app import from FLASK_APP), each with its own
exit code, stdout and stderr (captured at the file descriptors, so that a logging handler's output is caught too).

Used by tests/integration/test_readme_commands.py: a `flask` process spends seconds importing the application, and
the README names a dozen commands. Run as a script from the clone:
    python tests/integration/flask_commands.py RESULTS.json '[["demo", "seed"], ["rates", "list"]]'
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback


def run(args: list[str]) -> dict:
    from flask.cli import cli

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            try:
                cli.main(args=args, prog_name="flask")
                code = 0
            except SystemExit as exit:  # click's standalone mode ends every command with sys.exit
                code = exit.code if isinstance(exit.code, int) else 0 if exit.code is None else 1
            except Exception:  # what the `flask` script would print before dying
                traceback.print_exc()
                code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        out.seek(0)
        err.seek(0)
        return {"args": args, "returncode": code, "stdout": out.read().decode("utf-8", "replace"),
                "stderr": err.read().decode("utf-8", "replace")}


if __name__ == "__main__":
    results = [run(args) for args in json.loads(sys.argv[2])]
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump(results, f)
