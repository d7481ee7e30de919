"""Privacy: keyed pseudonyms, PII scrubbing, erasure (``graphsona forget``).

See the README's "Privacy" section for what is stored where. The loaders apply a
:class:`PrivacyPolicy` while reading; :func:`forget` removes people from everything graphsona
keeps. Nothing here imports model code.
"""

from graphsona.privacy.keys import (
    KEY_ENV,
    create_key_file,
    default_key_file,
    key_check,
    resolve_key,
)
from graphsona.privacy.policy import PrivacyPolicy, PrivacySettings, store_policy, text_file_of
from graphsona.privacy.pseudonyms import Pseudonymizer
from graphsona.privacy.scrub import DEFAULT_SCRUB, SCRUB_KINDS
from graphsona.privacy.texts import TextFile

__all__ = [
    "DEFAULT_SCRUB",
    "KEY_ENV",
    "SCRUB_KINDS",
    "PrivacyPolicy",
    "PrivacySettings",
    "Pseudonymizer",
    "TextFile",
    "create_key_file",
    "default_key_file",
    "key_check",
    "resolve_key",
    "store_policy",
    "text_file_of",
]
