"""Store URIs and secrets: split ``user:password@`` out of a URI, and redact secrets from text.

Decisions:

* A store URI may carry credentials (``bolt://alice:s3cret@host:7687``). The Neo4j Python driver
  rejects userinfo in ``neo4j://`` URIs and ignores it in ``bolt://`` ones, so graphsona strips it
  (:func:`split_userinfo`) and passes it as the driver's ``auth``; user and password are
  percent-decoded (write ``@`` as ``%40``, ``:`` as ``%3A``).
* No message graphsona prints may contain a password. :func:`redact` masks the userinfo password
  of every URI in a text (``scheme://user:***@``) and every known password value: the current
  ``NEO4J_PASSWORD`` and each password seen in a URI (:func:`remember_secret`). The CLI passes every
  error line through it. A password that is also an ordinary word (``neo4j``) is masked wherever it
  occurs: a mangled message is better than a leaked secret.
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote, unquote

__all__ = ["redact", "remember_secret", "split_userinfo"]

# scheme://user:password@ -- the password runs to the last "@" before a space or quote (a
# password may hold "/", "?" or "#", as base64 ones often do; they are not cut at the first one).
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]*):[^\s'\"]*@")
_SECRETS: set[str] = set()


def remember_secret(secret: str | None) -> None:
    """Mask ``secret`` (and its percent-encoded form) in everything :func:`redact` sees from now on."""
    if secret:
        _SECRETS.update({secret, quote(secret, safe="")})


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with URI passwords, ``NEO4J_PASSWORD``, remembered and given secrets as ``***``.

    >>> redact("cannot open neo4j://alice:pw@db:7687")
    'cannot open neo4j://alice:***@db:7687'
    """
    out = _USERINFO.sub(r"\g<head>:***@", text)
    known = {*_SECRETS, *secrets, os.environ.get("NEO4J_PASSWORD") or ""}
    for secret in sorted((s for s in known if s), key=len, reverse=True):
        out = out.replace(secret, "***")
    return out


def split_userinfo(uri: str) -> tuple[str, str | None, str | None]:
    """``(uri without userinfo, user, password)``; user / password are None where absent.

    >>> split_userinfo("bolt://alice:p%40ss@db:7687/x")
    ('bolt://db:7687/x', 'alice', 'p@ss')
    """
    if "://" not in uri:
        return uri, None, None
    scheme, rest = uri.split("://", 1)
    # The userinfo ends at the last "@": a password may hold "/", "?" or "#" unencoded, and a
    # store URI has no "@" after its host.
    userinfo, at, after = rest.rpartition("@")
    if not at:
        return uri, None, None
    host, tail = after, ""
    user, colon, password = userinfo.partition(":")
    return (
        f"{scheme}://{host}{tail}",
        unquote(user) or None,
        unquote(password) if colon else None,
    )
