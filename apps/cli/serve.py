"""`gamemetrics serve SERVICE`: run one service in the foreground (what its container runs).

Generic over `apps.core.services`: the declaration names the app factory, the
settings contract reads the environment; nothing here names a service.
"""

import argparse
import importlib
import os

from apps.core import services
from apps.core.errors import ConfigError
from apps.core.settings import for_service
from apps.core.settings.contract import Wire


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "serve",
        help="run one service (configuration from GAMEMETRICS_* environment variables)",
        description="Run one service in the foreground; its settings come from the environment "
        "(`gamemetrics settings SERVICE` lists them).",
    )
    p.add_argument("service", choices=[s.name for s in services.ALL])
    p.add_argument("--host", help="listen address (default from GAMEMETRICS_<SERVICE>_HOST)")
    p.add_argument("--port", type=int, help="listen port (default from GAMEMETRICS_<SERVICE>_PORT)")
    p.add_argument(
        "--workers", type=int, help="processes sharing the port (GAMEMETRICS_<SERVICE>_WORKERS, 1)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from apps.edge.server import serve

    service = services.by_name(args.service)
    contract = for_service(service)
    env = dict(os.environ)
    overrides: dict[Wire, str] = {}
    if args.host:
        overrides[Wire.HOST] = args.host
    if args.port:
        overrides[Wire.PORT] = str(args.port)
    env |= contract.wire(overrides, complete=False)
    if args.workers:
        if "workers" not in {v.field for v in contract.variables()}:
            raise ConfigError(f"--workers: {service.name} runs as one process")
        env[contract.key("workers")] = str(args.workers)
    settings = contract.from_env(env)
    module, _, name = service.app.partition(":")
    factory = getattr(importlib.import_module(module), name)
    # A service that declares no worker processes runs one (the processor: one consumer).
    workers = int(getattr(settings, "workers", 1))
    return serve(factory, settings, host=settings.host, port=settings.port, workers=workers)
