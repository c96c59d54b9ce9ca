"""The AWS Load Balancer Controller: it turns the public services' Ingresses into the ALB.

A Helm release in kube-system whose service account assumes an IAM role (IRSA) with the
controller's IAM policy, kept as a file beside this module (`iam_policies/`): it grants,
statement by statement, what the controller's published policy (`docs/install/iam_policy.json`
of the release in CHART_VERSION) grants; compare them when upgrading the chart. The Ingress
objects depend on the release: the controller's validating webhook must answer before an
Ingress can be created, and on `pulumi destroy` the Ingresses go first, so the controller
is still there to delete the ALB, its target groups and security groups.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.kubernetes import iam
from infra.kubernetes.backends import EksCluster, Irsa

POLICY_FILE: Final = Path(__file__).parent / "iam_policies" / "aws-load-balancer-controller.json"
CHART: Final = "aws-load-balancer-controller"
CHART_VERSION: Final = "1.17.1"
"""Controller v2.17.1; the policy file grants what that version calls."""
REPOSITORY: Final = "https://aws.github.io/eks-charts"
NAMESPACE: Final = "kube-system"
SERVICE_ACCOUNT: Final = "aws-load-balancer-controller"
MANAGED_POLICY_MAX_CHARS: Final = 6144
"""IAM's limit on a managed policy document, whitespace not counted."""


def load_policy(path: Path = POLICY_FILE) -> str:
    """The IAM policy document in `path`, as compact JSON.

    Raises ValueError naming the file when it is not a policy document or is too long for a
    managed policy.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not JSON ({e})") from None
    if (
        not isinstance(document, dict)
        or document.get("Version") != "2012-10-17"
        or not isinstance(document.get("Statement"), list)
        or not document["Statement"]
    ):
        raise ValueError(f"{path}: expected an IAM policy (Version 2012-10-17 and Statements)")
    text = json.dumps(document, separators=(",", ":"))
    if len(text) > MANAGED_POLICY_MAX_CHARS:
        raise ValueError(
            f"{path}: {len(text)} characters; a managed policy allows {MANAGED_POLICY_MAX_CHARS}"
        )
    return text


@dataclass(frozen=True)
class LoadBalancerControllerArgs:
    provider: k8s.Provider
    cluster: EksCluster
    irsa: Irsa
    tags: Mapping[str, str] = field(default_factory=dict)
    """The stack's tags: on the IAM role and policy (with `service` set to the controller),
    and on every AWS resource the controller creates (without `service`: each Ingress tags
    its own, and the controller's default tags would override it)."""
    replicas: int = 2
    chart_version: str = CHART_VERSION
    policy_file: Path = POLICY_FILE


class LoadBalancerController(pulumi.ComponentResource):
    """IAM policy and IRSA role, then the controller's Helm release (with its `alb`
    IngressClass). `release` is what Ingress objects depend on."""

    role: aws.iam.Role
    release: k8s.helm.v3.Release

    def __init__(
        self,
        name: str,
        args: LoadBalancerControllerArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("gamemetrics:infra:LoadBalancerController", name, None, opts)
        tags = {**args.tags, "service": CHART}
        policy = aws.iam.Policy(
            f"{name}-policy",
            description="AWS Load Balancer Controller: the ALB of the public services",
            policy=load_policy(args.policy_file),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.role = aws.iam.Role(
            f"{name}-irsa",
            assume_role_policy=iam.trust_policy(args.irsa, NAMESPACE, SERVICE_ACCOUNT),
            description="AWS Load Balancer Controller, via IRSA",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-irsa-policy",
            role=self.role.name,
            policy_arn=policy.arn,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            k8s.helm.v3.ReleaseArgs(
                name=CHART,
                chart=CHART,
                version=args.chart_version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=REPOSITORY),
                namespace=NAMESPACE,
                values=values(args, self.role.arn),
                atomic=True,
                cleanup_on_fail=True,
            ),
            # Without its permissions the controller starts, then fails every reconcile.
            opts=pulumi.ResourceOptions(
                parent=self, provider=args.provider, depends_on=[attachment]
            ),
        )
        self.register_outputs({"role_arn": self.role.arn, "release": self.release.name})


def values(args: LoadBalancerControllerArgs, role_arn: pulumi.Input[str]) -> dict[str, object]:
    cluster = args.cluster
    return {
        "clusterName": cluster.name,
        # Pods cannot reach the instance metadata (hop limit 1): region and VPC are given.
        "region": cluster.region,
        "vpcId": cluster.vpc_id,
        "replicaCount": args.replicas,
        "serviceAccount": {
            "create": True,
            "name": SERVICE_ACCOUNT,
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
        },
        # No Service of type LoadBalancer exists (the namespaces' quota is 0): without this
        # the webhook intercepts every Service, and blocks them while the controller is down.
        "enableServiceMutatorWebhook": False,
        "defaultTags": {k: v for k, v in args.tags.items() if k != "service"},
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
    }
