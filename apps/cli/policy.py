"""`gamemetrics policy check`: the CrossGuard policy pack against a stack, offline.

Runs the Pulumi program under mocks (as `gamemetrics infra plan` does), then
the policy pack through its analyzer interface, resource by resource and over
the whole stack, with the stack's policy configuration (policies/config/).
Prints each violation; exits 1 when a mandatory policy is violated or a policy
crashed, 2 when the stack or policy configuration is invalid. Needs the
`infra` extra; nothing of Pulumi is imported until the command runs.
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from apps.cli.infra import INSTALL_HINT, infra_extra_installed

if TYPE_CHECKING:
    from policies.offline import Report
    from stacks.offline.preview import Plan

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SARIF_LEVELS = {"mandatory": "error", "advisory": "warning", "disabled": "none"}


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("policy", help="the CrossGuard policy pack: offline checks of the stacks")
    policy = p.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    q = policy.add_parser(
        "check",
        help="run the policy pack against a stack's resources (the program under mocks)",
    )
    q.add_argument("--stack", required=True, metavar="NAME", help="dev, staging or prod")
    q.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="stack configuration in the Pulumi.<stack>.yaml format (default: that file)",
    )
    q.add_argument(
        "--policy-config",
        type=Path,
        metavar="FILE",
        help="policy pack configuration, as for pulumi --policy-pack-config "
        "(default: policies/config/<stack>.json)",
    )
    q.add_argument(
        "--format",
        choices=("text", "json", "sarif"),
        default="text",
        help="text (default), json ({policies, violations, crashes}) or sarif (SARIF 2.1.0)",
    )
    q.set_defaults(handler=check)


def _fail(message: str) -> int:
    print(f"gamemetrics policy: {message}", file=sys.stderr)
    return 2


def check(args: argparse.Namespace) -> int:
    if not infra_extra_installed("pulumi_policy"):
        return _fail(INSTALL_HINT)
    from policies.offline import PolicyConfigError
    from stacks.errors import StackError
    from stacks.offline.policy_check import check_stack
    from stacks.offline.preview import stack_file

    try:
        plan, report = check_stack(args.stack, args.config, args.policy_config)
    except (StackError, PolicyConfigError) as e:
        return _fail(str(e))
    if args.format == "json":
        sys.stdout.write(json.dumps({"stack": plan.stack, **report.to_json()}, indent=2) + "\n")
    elif args.format == "sarif":
        source = args.config or stack_file(plan.stack)
        sys.stdout.write(json.dumps(sarif(report, plan, source), indent=2) + "\n")
    else:
        sys.stdout.write(text(report, plan))
    return 0 if report.passed else 1


def text(report: "Report", plan: "Plan") -> str:
    levels = [p.enforcement_level for p in report.policies]
    lines = [
        f"policy pack {report.pack} {report.version} on stack {plan.stack}: "
        f"{len(report.policies)} policies ({levels.count('mandatory')} mandatory, "
        f"{levels.count('advisory')} advisory), {len(plan.resources)} resources",
        "",
    ]
    for v in report.violations:
        lines.append(f"[{v.enforcement_level}] {v.policy}  {v.resource_type}  {v.resource_name}")
        lines.append(f"    {v.message}")
        lines.append(f"    resource: {v.urn}")
    for c in report.crashes:
        where = c.urn or "the whole stack"
        lines.append(f"[crashed] {c.policy}  on {where}")
        lines.append(f"    {c.error}")
    mandatory = len(report.mandatory)
    advisory = len(report.violations) - mandatory
    verdict = "passed" if report.passed else "FAILED"
    if report.violations or report.crashes:
        lines.append("")
    lines.append(
        f"{mandatory} mandatory and {advisory} advisory violation(s), "
        f"{len(report.crashes)} crashed policy run(s): {verdict}"
    )
    return "\n".join(lines) + "\n"


def _uri(path: Path) -> str:
    """The file as a URI relative to the working directory when it is inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.resolve().as_uri()


def sarif(report: "Report", plan: "Plan", source: Path) -> dict[str, object]:
    """SARIF 2.1.0: one run, a rule per evaluated policy, a result per violation located at
    the stack configuration file and, logically, at the resource's URN."""
    rules = [
        {
            "id": p.name,
            "shortDescription": {"text": p.description},
            "defaultConfiguration": {"level": SARIF_LEVELS[p.enforcement_level]},
            "properties": {"enforcementLevel": p.enforcement_level, "kind": p.kind},
        }
        for p in report.policies
    ]
    index = {p.name: i for i, p in enumerate(report.policies)}
    uri = _uri(source)
    results = []
    for v in report.violations:
        result: dict[str, object] = {
            "ruleId": v.policy,
            "level": SARIF_LEVELS.get(v.enforcement_level, "warning"),
            "message": {"text": v.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri},
                        "region": {"startLine": 1},
                    },
                    "logicalLocations": [
                        {"fullyQualifiedName": v.urn, "name": v.resource_name, "kind": "resource"}
                    ],
                }
            ],
            "partialFingerprints": {
                "policyResource/v1": hashlib.sha256(f"{v.policy}|{v.urn}".encode()).hexdigest()
            },
            "properties": {
                "enforcementLevel": v.enforcement_level,
                "resourceType": v.resource_type,
            },
        }
        if v.policy in index:
            result["ruleIndex"] = index[v.policy]
        results.append(result)
    notifications = [
        {
            "level": "error",
            "message": {"text": f"policy {c.policy} crashed on {c.urn or 'the stack'}: {c.error}"},
            "associatedRule": {"id": c.policy},
        }
        for c in report.crashes
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "gamemetrics-policy",
                        "version": report.version,
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"gamemetrics-policy/{plan.stack}/"},
                "invocations": [
                    {
                        "executionSuccessful": not report.crashes,
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "results": results,
            }
        ],
    }
