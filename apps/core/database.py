"""What the store's SQL needs of PostgreSQL, declared once: the migrations and the local
runner check it at start, the Pulumi program deploys it.

The processor's statements read a row's values before and after an upsert with
`RETURNING old.*, new.*`, which PostgreSQL 18 introduced; RDS offers 18.
"""

from typing import Final

POSTGRES_MAJOR: Final = 18
"""The major version the Pulumi program deploys, and the oldest the apps run on."""
