"""The AWS Load Balancer Controller: Helm release, IRSA role with the policy from its file, and
the Ingresses that wait for it."""

import json
from pathlib import Path
from typing import Any

import pytest

from apps.core import services
from infra.kubernetes import load_balancer
from infra.kubernetes.load_balancer import POLICY_FILE, load_policy
from stacks.offline.preview import Plan
from tests.infra.kubernetes import harness

RELEASE = "gm-load-balancer-release"


def _release() -> dict[str, Any]:
    return harness.platform("prod").releases()["aws-load-balancer-controller"].inputs


def test_the_controller_is_a_helm_release_in_kube_system_for_this_cluster() -> None:
    release = _release()
    assert release["namespace"] == "kube-system"
    assert release["version"] == load_balancer.CHART_VERSION
    assert release["repositoryOpts"]["repo"] == "https://aws.github.io/eks-charts"
    values = release["values"]
    cluster = harness.cluster()
    assert (values["clusterName"], values["region"], values["vpcId"]) == (
        cluster.name,
        cluster.region,
        cluster.vpc_id,
    )
    # No LoadBalancer Services exist: the Service webhook would only be a way to fail.
    assert values["enableServiceMutatorWebhook"] is False
    tags = harness.backends().tags
    assert values["defaultTags"] == tags
    assert "service" not in values["defaultTags"]  # each Ingress tags its own service


def test_its_service_account_assumes_an_irsa_role_with_the_policy_from_the_file() -> None:
    program = harness.platform("prod")
    account = _release()["values"]["serviceAccount"]
    assert account["create"] is True
    assert account["name"] == "aws-load-balancer-controller"
    role = program.resource("aws:iam/role:Role", "gm-load-balancer-irsa")
    assert account["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/gm-load-balancer-irsa"
    }
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Condition"]["StringEquals"][
        "oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub"
    ] == ("system:serviceaccount:kube-system:aws-load-balancer-controller")
    policy = program.resource("aws:iam/policy:Policy", "gm-load-balancer-policy")
    assert json.loads(policy.inputs["policy"]) == json.loads(POLICY_FILE.read_text())
    attachment = program.resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert (
        attachment.inputs["policyArn"] == "arn:aws:iam::123456789012:policy/gm-load-balancer-policy"
    )
    assert role.inputs["tags"]["service"] == "aws-load-balancer-controller"
    # The release waits for its permissions.
    assert attachment.urn in program.resource("kubernetes:helm.sh/v3:Release", RELEASE).dependencies


def test_ingresses_depend_on_the_controller() -> None:
    program = harness.platform("prod")
    release = program.resource("kubernetes:helm.sh/v3:Release", RELEASE)
    ingresses = program.kind("Ingress", "gamemetrics")
    assert {i.object_name for i in ingresses} == {s.name for s in services.ALL if s.public}
    for ingress in ingresses:
        assert release.urn in ingress.dependencies, ingress.object_name


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_stack_runs_the_controller_before_its_ingresses(
    plans: dict[str, Plan], stack: str
) -> None:
    plan = plans[stack]
    release = plan.one("kubernetes:helm.sh/v3:Release", "kubernetes-load-balancer-release")
    values = release.plain["values"]
    assert values["clusterName"] == f"gamemetrics-{stack}"
    assert values["region"] == plan.settings.region
    # The mock cloud's ids and ARNs are `<resource name>-<hash>`.
    assert values["vpcId"].startswith(f"{plan.one('aws:ec2/vpc:Vpc').name}-")
    role_arn = values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert f":role/{plan.one('aws:iam/role:Role', 'kubernetes-load-balancer-irsa').name}-" in (
        role_arn
    )
    ingresses = plan.of_type("kubernetes:networking.k8s.io/v1:Ingress")
    assert ingresses
    assert all(release.urn in i.dependencies for i in ingresses)


def test_the_policy_file_is_a_managed_policy_scoped_to_what_the_controller_created() -> None:
    document = json.loads(load_policy())
    assert len(load_policy()) <= load_balancer.MANAGED_POLICY_MAX_CHARS
    statements = document["Statement"]
    assert all(s["Effect"] == "Allow" for s in statements)
    services_used = {a.split(":")[0] for s in statements for a in s["Action"]}
    assert services_used == {
        "acm", "cognito-idp", "ec2", "elasticloadbalancing", "iam", "shield",
        "waf-regional", "wafv2",
    }  # fmt: skip
    # It deletes only the load balancers, target groups and security groups it tagged.
    deleting = {"elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:DeleteTargetGroup",
                "ec2:DeleteSecurityGroup"}  # fmt: skip
    for statement in statements:
        if deleting & set(statement["Action"]):
            assert statement["Condition"] == {
                "Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}
            }
    (linked,) = [s for s in statements if "iam:CreateServiceLinkedRole" in s["Action"]]
    assert linked["Condition"] == {
        "StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}
    }


def test_a_file_that_is_not_a_policy_is_refused_with_its_name(tmp_path: Path) -> None:
    broken = tmp_path / "policy.json"
    broken.write_text('{"Statement": []}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"policy\.json: expected an IAM policy"):
        load_policy(broken)
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match=r"policy\.json: not JSON"):
        load_policy(broken)
    statement = {"Effect": "Allow", "Action": ["ec2:DescribeVpcs"] * 400, "Resource": "*"}
    broken.write_text(json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    with pytest.raises(ValueError, match="a managed policy allows 6144"):
        load_policy(broken)
