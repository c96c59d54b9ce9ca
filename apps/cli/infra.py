"""`gamemetrics infra plan`: what a stack would create, offline (no Pulumi CLI, no AWS).

Runs the real Pulumi program (stacks/__main__.py) under Pulumi's mocks with the
stack's configuration and prints the resource tree. Needs the `infra` extra;
pulumi is imported only when the command runs, so the apps never load it.
"""

import argparse
import importlib.util
import json
import sys
from pathlib import Path

INSTALL_HINT = (
    "the infra commands need the Pulumi libraries (the `infra` extra): "
    "pip install -c constraints.txt -e '.[infra]'"
)


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("infra", help="the AWS deployment: offline plans of the Pulumi stacks")
    infra = p.add_subparsers(dest="infra_command", required=True, metavar="ACTION")

    q = infra.add_parser(
        "plan",
        help="print the resources a stack declares (the program under mocks, no credentials)",
    )
    q.add_argument("--stack", required=True, metavar="NAME", help="dev, staging or prod")
    q.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="stack configuration in the Pulumi.<stack>.yaml format (default: that file)",
    )
    q.add_argument(
        "--json",
        action="store_true",
        help="a JSON list of {type, name, urn, parent, custom, provider, inputs}",
    )
    q.set_defaults(handler=plan)


def infra_extra_installed(*modules: str) -> bool:
    """Whether the Pulumi libraries (and `modules`) can be imported, without importing them."""
    return all(importlib.util.find_spec(m) is not None for m in ("pulumi", *modules))


def _fail(message: str) -> int:
    print(f"gamemetrics infra: {message}", file=sys.stderr)
    return 2


def plan(args: argparse.Namespace) -> int:
    if not infra_extra_installed():
        return _fail(INSTALL_HINT)
    from stacks.errors import StackError
    from stacks.offline.preview import plan_stack

    try:
        result = plan_stack(args.stack, args.config)
    except StackError as e:
        return _fail(str(e))
    if args.json:
        json.dump(result.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(result.render() + "\n")
    return 0
