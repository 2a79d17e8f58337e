"""The ``kesu`` command (installed as a console script): one name for every entry point.

``kesu worker`` runs ``worker.py``, ``kesu api`` runs ``api_server.py``, and every other
subcommand is ``starter.py``'s (``kesu start``, ``kesu show``, ``kesu report`` ...). The files
stay runnable on their own; this only dispatches, so the two never differ.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import NoReturn

from runtime import exit_after

USAGE = """usage: kesu COMMAND [ARGS...]

kesu (客诉): complaint and service cases on Temporal.

  kesu worker [--help]      run a worker (worker.py)
  kesu api [--help]         serve the HTTP API (api_server.py)
  kesu new-token ...        make an API token (api_server.py new-token)
  kesu start|event|show|list|redeliver|verify|report|reassign|warnings|migrate|check|demo ...
                            cases and records (starter.py); `kesu start --help` and so on
  kesu merge|group ...      duplicates and group complaints (starter.py)
  kesu schema|diagram|simulate|test ...
                            designer tools, no server needed (starter.py)

Settings come from the environment (TEMPORAL_ADDRESS, KESU_DATA_DIR, ...; see the README)."""


def run(argv: Sequence[str]) -> int:
    command, rest = (argv[0], list(argv[1:])) if argv else (None, [])
    if command in (None, "-h", "--help", "help"):
        print(USAGE)
        return 0 if command else 2
    if command == "worker":
        import worker

        return worker.main(rest, prog="kesu worker")
    if command == "api":
        import api_server

        return api_server.main(rest, prog="kesu api")
    if command == "new-token":
        import api_server

        return api_server.main(list(argv), prog="kesu")
    import starter

    return starter.main(list(argv), prog="kesu")


def main() -> NoReturn:
    exit_after(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
