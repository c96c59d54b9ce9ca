"""Every service's settings contract (see contract.py for what a contract is).

Importing this package registers the contracts of the services in
`apps.core.services.ALL`; `for_service` finds one by its service.
"""

from apps.core.settings import analytics, ingest, processor, retention, users
from apps.core.settings.contract import for_service

__all__ = ["analytics", "for_service", "ingest", "processor", "retention", "users"]
