"""`gamemetrics settings [SERVICE]`: every environment variable a service reads, from its contract.

What an operator sets, with its type, default and whether it is secret; the
same declaration the service reads and the Pulumi program writes.
"""

import argparse
import json
import sys

from apps.core import services


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "settings",
        help="list the environment variables each service reads (its settings contract)",
        description="List the GAMEMETRICS_* variables of one service or all, from their contracts.",
    )
    p.add_argument("service", nargs="?", choices=[s.name for s in services.ALL])
    p.add_argument("--json", action="store_true", help="a JSON object: service -> variables")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from apps.core.settings import for_service

    chosen = [services.by_name(args.service)] if args.service else list(services.ALL)
    contracts = {s.name: for_service(s).variables() for s in chosen}
    if args.json:
        out = {
            name: [
                {
                    "name": v.key, "field": v.field, "type": v.kind, "default": v.default,
                    "required": v.default is None, "secret": v.secret,
                    "supplied_by_platform": v.wire is not None, "doc": v.doc,
                }
                for v in variables
            ]
            for name, variables in contracts.items()
        }  # fmt: skip
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    for name, variables in contracts.items():
        print(f"{name}:")
        for v in variables:
            default = "(required)" if v.default is None else f"default {v.default or '(unset)'}"
            flags = ", ".join(
                f for f, on in (("secret", v.secret), ("set by the platform", v.wire)) if on
            )
            print(f"  {v.key:<48} {v.kind}; {default}" + (f"; {flags}" if flags else ""))
            if v.doc:
                print(f"  {'':<48} {v.doc}")
    return 0
