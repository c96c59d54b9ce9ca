"""`gamemetrics serve SERVICE`: run one service in the foreground (what its container runs)."""

import argparse
import os

from apps.core import services


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "serve",
        help="run one service (configuration from GAMEMETRICS_* environment variables)",
        description="Run one service in the foreground; its settings come from the environment.",
    )
    p.add_argument("service", choices=[s.name for s in services.ALL])
    p.add_argument("--host", help="listen address (default from GAMEMETRICS_<SERVICE>_HOST)")
    p.add_argument("--port", type=int, help="listen port (default from GAMEMETRICS_<SERVICE>_PORT)")
    p.add_argument(
        "--workers", type=int, help="processes sharing the port (GAMEMETRICS_<SERVICE>_WORKERS, 1)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    prefix = f"GAMEMETRICS_{args.service.upper()}"
    if args.host:
        env[f"{prefix}_HOST"] = args.host
    if args.port:
        env[f"{prefix}_PORT"] = str(args.port)
    if args.workers:
        env[f"{prefix}_WORKERS"] = str(args.workers)
    if args.service == "ingest":
        return _serve_ingest(env)
    if args.service == "processor":
        return _serve_processor(env)
    if args.service == "analytics":
        return _serve_analytics(env)
    raise AssertionError(f"no runner for {args.service}")


def _serve_ingest(env: dict[str, str]) -> int:
    from apps.ingest.app import create_app
    from apps.ingest.settings import IngestSettings
    from apps.server import serve

    settings = IngestSettings.from_env(env)
    return serve(
        create_app, settings, host=settings.host, port=settings.port, workers=settings.workers
    )


def _serve_processor(env: dict[str, str]) -> int:
    from apps.processor.app import create_app
    from apps.processor.settings import ProcessorSettings
    from apps.server import serve

    settings = ProcessorSettings.from_env(env)
    return serve(create_app, settings, host=settings.host, port=settings.port, workers=1)


def _serve_analytics(env: dict[str, str]) -> int:
    from apps.analytics.app import create_app
    from apps.analytics.settings import AnalyticsSettings
    from apps.server import serve

    settings = AnalyticsSettings.from_env(env)
    return serve(
        create_app, settings, host=settings.host, port=settings.port, workers=settings.workers
    )
