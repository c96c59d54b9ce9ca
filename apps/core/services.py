"""The services, declared once: `gamemetrics dev` supervises them, infra deploys them.

Each entry says which application the one image runs for the service, where
it listens, how it is probed and scaled, and what it talks to; the Pulumi
program derives Deployments, Services, HPAs, NetworkPolicies, KafkaUsers and
ServiceMonitors from it, `gamemetrics serve NAME` runs it, and its settings
contract (apps/core/settings/) takes its port from it.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, get_args

from apps.core import buckets, topics

Backend = Literal["postgres", "kafka", "redis", "s3"]
S3Access = Literal["read", "write"]
"""What a service does with a bucket's objects (under the bucket's `key_prefix`): `read`
gets them; `write` gets, puts and deletes them (and aborts its unfinished uploads). Both
list the bucket. The service's IAM role (infra/kubernetes/iam.py) grants exactly this."""


@dataclass(frozen=True, slots=True)
class Scaling:
    min_replicas: int
    max_replicas: int
    target_cpu_percent: int = 70


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    app: str
    """`module:function` building the service's ASGI app from its settings (imported only
    by `gamemetrics serve`: the core never imports an app)."""
    port: int
    """HTTP port: the API, or /metrics and probes for workers."""
    public: bool
    """Reached from outside the cluster (through the ingress)."""
    needs: frozenset[Backend]
    produces: tuple[topics.Topic, ...] = ()
    consumes: tuple[topics.Topic, ...] = ()
    awaits: tuple["Service", ...] = ()
    """Consumers whose committed progress it reads (their group's offsets, their topics'
    watermarks) without joining their group: its Kafka ACLs let it look, never commit."""
    liveness_path: str = "/healthz"
    readiness_path: str = "/readyz"
    metrics_path: str = "/metrics"
    scaling: dict[topics.Stack, Scaling] = field(default_factory=dict)
    cpu_request_millis: int = 250
    memory_request_mib: int = 256
    memory_limit_mib: int = 512
    endpoint_key: str | None = None
    """Key in `<data-dir>/endpoints.json` under which `gamemetrics dev` publishes its URL."""
    endpoint_path: str = ""
    """Appended to the service's base URL in endpoints.json (the GraphQL route, say)."""
    drain_path: str | None = None
    """Answers {"caught_up": bool} once the service has consumed everything (local shutdown)."""
    s3_access: Mapping[buckets.Bucket, S3Access] = field(default_factory=dict)
    """The buckets it uses and what it does with each: declared whenever it needs s3."""

    def __post_init__(self) -> None:
        if ("s3" in self.needs) != bool(self.s3_access):
            raise ValueError(
                f"service {self.name!r}: needs s3 exactly when it declares s3_access (needs "
                f"s3: {'s3' in self.needs}, s3_access: {dict(self.s3_access) or 'none'}); "
                "say which buckets it reads or writes, or drop s3 from needs"
            )
        for bucket, access in self.s3_access.items():
            if bucket not in buckets.ALL:
                known = ", ".join(b.purpose for b in buckets.ALL)
                raise ValueError(
                    f"service {self.name!r}: s3_access names bucket {bucket.purpose!r}, which "
                    f"apps/core/buckets.py does not declare; known: {known}"
                )
            if access not in get_args(S3Access):
                raise ValueError(
                    f"service {self.name!r}: s3_access[{bucket.purpose!r}] is {access!r}; "
                    f"expected one of {', '.join(get_args(S3Access))}"
                )
        for awaited in self.awaits:
            if not awaited.consumes:
                raise ValueError(
                    f"service {self.name!r} awaits {awaited.name!r}, which consumes nothing: "
                    "only a consumer has committed progress to wait for"
                )

    @property
    def command(self) -> tuple[str, ...]:
        """How the image runs it (the container's command)."""
        return ("gamemetrics", "serve", self.name)

    @property
    def consumer_group(self) -> str:
        """The Kafka consumer group it joins when it consumes (its ACLs name it)."""
        return f"gamemetrics-{self.name}"


INGEST: Final = Service(
    name="ingest",
    app="apps.ingest.app:create_app",
    port=8080,
    public=True,
    needs=frozenset({"postgres", "kafka", "redis"}),
    produces=(topics.EVENTS,),
    scaling={
        "dev": Scaling(1, 2),
        "staging": Scaling(2, 4),
        "prod": Scaling(3, 20),
    },
    cpu_request_millis=500,
    endpoint_key="ingest_url",
)

PROCESSOR: Final = Service(
    name="processor",
    app="apps.processor.app:create_app",
    port=8081,
    public=False,
    needs=frozenset({"postgres", "kafka"}),
    produces=(topics.EVENTS_DLQ,),
    consumes=(topics.EVENTS,),
    scaling={
        "dev": Scaling(1, 2),
        "staging": Scaling(2, 6),
        # More consumers than partitions would idle: the bound is the partition count.
        "prod": Scaling(3, topics.EVENTS.partitions["prod"]),
    },
    cpu_request_millis=500,
    memory_limit_mib=768,
    drain_path="/drain",
)

ANALYTICS: Final = Service(
    name="analytics",
    app="apps.analytics.app:create_app",
    port=8082,
    public=True,
    # S3: funnels and event counts over archived days read the archive (apps/archive/read.py).
    needs=frozenset({"postgres", "redis", "s3"}),
    scaling={
        "dev": Scaling(1, 2),
        "staging": Scaling(2, 4),
        "prod": Scaling(2, 10),
    },
    cpu_request_millis=500,
    endpoint_key="graphql_url",
    s3_access={buckets.ARCHIVE: "read"},
    endpoint_path="/graphql",
)

USERS: Final = Service(
    name="users",
    app="apps.users.app:create_app",
    port=8083,
    public=True,
    # Login throttling is kept in PostgreSQL (apps/store/logins.py): no Redis needed.
    # Kafka: privacy jobs wait for the processor's committed offsets (apps/kafka/progress.py).
    # S3: exports and erasures reach the player's archived events (apps/archive/).
    needs=frozenset({"postgres", "kafka", "s3"}),
    awaits=(PROCESSOR,),
    scaling={
        "dev": Scaling(1, 2),
        "staging": Scaling(2, 3),
        "prod": Scaling(2, 6),
    },
    # argon2id costs 64 MiB per password hashed at once (apps/store/passwords.py).
    memory_request_mib=384,
    memory_limit_mib=768,
    endpoint_key="users_url",
    # The archive eraser writes new parts and manifests and deletes the parts they replace.
    s3_access={buckets.ARCHIVE: "write"},
)

RETENTION: Final = Service(
    name="retention",
    app="apps.retention.app:create_app",
    port=8087,
    public=False,
    # PostgreSQL: the raw events it moves and the archive's catalog; S3: the archive;
    # Kafka: a pass deletes a day only once the processor has stored every event that
    # ingestion could still accept for it (apps/kafka/progress.py).
    needs=frozenset({"postgres", "kafka", "s3"}),
    awaits=(PROCESSOR,),
    # One pass at a time whatever the replicas (a PostgreSQL lock; the other replica's
    # attempt is counted as `busy` and it waits an interval): a second is only a standby.
    scaling={"dev": Scaling(1, 1), "staging": Scaling(2, 2), "prod": Scaling(2, 2)},
    # A pass holds one part (RETENTION_ROWS_PER_PART rows) in memory at a time.
    memory_request_mib=512,
    memory_limit_mib=1024,
    # Writes parts and manifests; deletes expired days, replaced parts and crashed leftovers.
    s3_access={buckets.ARCHIVE: "write"},
)

ALL: Final[tuple[Service, ...]] = (INGEST, PROCESSOR, ANALYTICS, USERS, RETENTION)


def by_name(name: str) -> Service:
    for service in ALL:
        if service.name == name:
            return service
    known = ", ".join(s.name for s in ALL)
    raise KeyError(f"unknown service {name!r}; known: {known}")
