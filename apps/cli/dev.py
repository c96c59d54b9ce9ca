"""`gamemetrics dev`: start the whole platform locally on embedded servers."""

import argparse
from pathlib import Path

from apps.local.platform import DEFAULT_DATA_DIR


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "dev",
        help="run the whole platform locally (embedded PostgreSQL, Kafka broker, Redis, S3)",
        description=(
            "Start PostgreSQL, a Kafka-compatible broker, Redis and an S3-compatible store "
            "(SeaweedFS) from pip packages (or use the servers you name), apply migrations, "
            "create topics and buckets and supervise the "
            "services until Ctrl-C. Endpoints are printed and written to "
            "<data-dir>/endpoints.json."
        ),
    )
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="default: .gamemetrics")
    p.add_argument("--postgres-url", help="use this PostgreSQL instead of the embedded one")
    p.add_argument("--kafka-bootstrap", help="use this Kafka cluster instead of the embedded one")
    p.add_argument("--redis-url", help="use this Redis instead of the embedded one")
    p.add_argument(
        "--s3-endpoint",
        help="use this S3-compatible store (http[s]://host:port) instead of the embedded one; "
        "its credentials come from the AWS_* variables or profile",
    )
    p.add_argument("--ingest-port", type=int, help="preferred ingestion port (default 8080)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from apps.local.platform import AlreadyRunning, DevOptions, run_dev
    from apps.local.process import StartFailed

    options = DevOptions(
        data_dir=args.data_dir,
        postgres_url=args.postgres_url,
        kafka_bootstrap=args.kafka_bootstrap,
        redis_url=args.redis_url,
        s3_endpoint=args.s3_endpoint,
        ingest_port=args.ingest_port,
    )
    try:
        return run_dev(options, say=lambda line: print(line, flush=True))
    except (AlreadyRunning, StartFailed) as e:
        print(f"gamemetrics dev: {e}", flush=True)
        return 1
