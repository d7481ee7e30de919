"""The pseudonym key: where it comes from, and the check value a store keeps instead of it.

The key is never stored with the data. It comes from, in this order:

1. the environment variable ``GRAPHSONA_PSEUDONYM_KEY`` (at least 16 characters);
2. the key file named by ``[privacy] key_file`` (its first line, at least 16 characters);
3. the default key file ``~/.config/graphsona/pseudonym.key`` (``$XDG_CONFIG_HOME`` is
   honoured), which ``graphsona demo`` creates (mode 0600) when it does not exist.

A store loaded with pseudonyms records only :func:`key_check` (a keyed hash of a fixed text),
so a later load or update with another key, or with none, is refused instead of mixing two
kinds of ids in one graph.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from graphsona.errors import ConfigError

__all__ = ["KEY_ENV", "create_key_file", "default_key_file", "key_check", "resolve_key"]

KEY_ENV = "GRAPHSONA_PSEUDONYM_KEY"
MIN_KEY_CHARS = 16


def default_key_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "graphsona" / "pseudonym.key"


def _checked(value: str, where: str) -> bytes:
    value = value.strip()
    if len(value) < MIN_KEY_CHARS:
        raise ConfigError(
            f"the pseudonym key from {where} is shorter than {MIN_KEY_CHARS} characters; make "
            'one with: python -c "import secrets; print(secrets.token_hex(32))"'
        )
    return value.encode("utf-8")


def resolve_key(key_file: Path | None = None) -> bytes:
    """The key (see the module docstring for the order); ConfigError naming every place
    looked in when there is none."""
    env = os.environ.get(KEY_ENV)
    if env:
        return _checked(env, f"${KEY_ENV}")
    for path in (key_file, default_key_file()):
        if path is None:
            continue
        if path.is_file():
            first = path.read_text(encoding="utf-8").splitlines()
            return _checked(first[0] if first else "", str(path))
        if path == key_file:
            raise ConfigError(f"{path}: pseudonym key file not found ([privacy] key_file)")
    raise ConfigError(
        f"pseudonymisation needs a key: set ${KEY_ENV}, or name a key file in [privacy] "
        f'key_file, or create {default_key_file()} (python -c "import secrets; '
        'print(secrets.token_hex(32))" > that file; keep it away from the data)'
    )


def create_key_file(path: Path | None = None) -> Path:
    """Write a new random key to ``path`` (default :func:`default_key_file`) unless a file is
    there already; readable by its owner only."""
    path = path or default_key_file()
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(secrets.token_hex(32) + "\n")
    return path


def key_check(key: bytes) -> str:
    """A value that tells keys apart without revealing them (kept in the store's bookkeeping)."""
    return hmac.new(key, b"graphsona:key-check", hashlib.sha256).hexdigest()[:16]
