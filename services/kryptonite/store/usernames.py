"""The one canonical form of a username: Unicode NFKC + case fold, trimmed.

Computed once, where a name enters (sign-up, sign-in, the sign-in limiter), and stored in
``users.username_key`` (unique, compared byte for byte: MariaDB's default collation would
otherwise match ``alicé`` to ``alice``); ``users.username`` keeps the spelling shown.
"""

from __future__ import annotations

import unicodedata


def canonical(username: str) -> str:
    """``PixarFan``, ``ＰＩＸＡＲＦＡＮ`` and `` pixarfan `` are all ``pixarfan``."""
    folded = unicodedata.normalize("NFKC", username.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)
