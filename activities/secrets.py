"""Secrets from the environment or from files: ``NAME`` holds the secret, or ``NAME_FILE`` names
a file holding it (the convention of container secrets, e.g. ``/run/secrets/...``), so a secret
need not sit in a process's environment. The entry points pass the environment in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

FILE_SUFFIX = "_FILE"


class SecretFileError(Exception):
    """A ``*_FILE`` variable naming a file that cannot be read."""


def secret(environ: Mapping[str, str], name: str) -> str | None:
    """``name``'s value, else the contents of the file ``name_FILE`` names (one trailing
    newline dropped); None when neither is set."""
    value = environ.get(name)
    if value:
        return value
    path = environ.get(name + FILE_SUFFIX)
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except (OSError, UnicodeDecodeError) as error:
        problem = getattr(error, "strerror", None) or error
        raise SecretFileError(f"{name}{FILE_SUFFIX}={path}: cannot read it: {problem}") from None
    return text.removesuffix("\n").removesuffix("\r") or None


def source(environ: Mapping[str, str], name: str) -> str:
    """Where ``name``'s secret comes from, for messages: never the secret itself."""
    if environ.get(name):
        return name
    if environ.get(name + FILE_SUFFIX):
        return f"{name}{FILE_SUFFIX}={environ[name + FILE_SUFFIX]}"
    return name


def with_secrets(environ: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """``environ`` with each of ``names`` filled in from its ``*_FILE`` where only that is set."""
    resolved = dict(environ)
    for name in names:
        value = secret(environ, name)
        if value is not None:
            resolved[name] = value
    return resolved
