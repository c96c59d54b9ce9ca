"""The query layer of the analytics API: one async function per metric, over PostgreSQL.

Each takes an `psycopg.AsyncConnection` (autocommit, or in a transaction the
caller opened) and the game first, then arguments the caller already checked
against `apps.core.periods` limits. All SQL is parameterised. Results are the
frozen dataclasses of `apps.analytics.results`.
"""

from apps.analytics.queries.activity import active_users, new_users
from apps.analytics.queries.counts import event_counts
from apps.analytics.queries.funnel import MAX_FUNNEL_EVENTS, FunnelTooLarge, funnel
from apps.analytics.queries.live import live_stats
from apps.analytics.queries.retention import retention
from apps.analytics.queries.revenue import UnknownCurrency, revenue
from apps.analytics.queries.sessions import sessions

__all__ = [
    "MAX_FUNNEL_EVENTS",
    "FunnelTooLarge",
    "UnknownCurrency",
    "active_users",
    "event_counts",
    "funnel",
    "live_stats",
    "new_users",
    "retention",
    "revenue",
    "sessions",
]
