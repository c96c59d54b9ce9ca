"""Password hashing with argon2id (argon2-cffi's RFC 9106 low-memory profile).

Hashing costs about 64 MiB and tens of milliseconds on purpose: call it from a
worker thread, never from an event loop. At most `CONCURRENT` hashes run at once
per process (the others wait), so a burst of logins cannot take more than
`CONCURRENT` x 64 MiB.
"""

import threading
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER: Final = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4
_DUMMY: Final = _HASHER.hash("not a password anyone has")
CONCURRENT: Final = 4
_SLOTS: Final = threading.BoundedSemaphore(CONCURRENT)
MIN_CHARS: Final = 12
MAX_CHARS: Final = 256


def check_password(password: str) -> str:
    """The password if it is acceptable; ValueError saying why not."""
    if not MIN_CHARS <= len(password) <= MAX_CHARS:
        raise ValueError(f"{len(password)} characters; allowed {MIN_CHARS} to {MAX_CHARS}")
    return password


def hash_password(password: str) -> str:
    checked = check_password(password)
    with _SLOTS:
        return _HASHER.hash(checked)


def verify(stored_hash: str | None, password: str) -> bool:
    """Whether `password` matches; with no stored hash (unknown account) the same work is
    done against a dummy, so the answer's timing does not tell which accounts exist."""
    try:
        with _SLOTS:
            matched = _HASHER.verify(stored_hash or _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return False
    return matched and stored_hash is not None
