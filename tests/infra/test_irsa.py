"""The IRSA trust policy: one service account of one cluster, with the STS audience."""

import json
from typing import Any

import pulumi

from infra import irsa
from stacks.offline.preview import Plan, run_program
from tests.stacks.test_config import MINIMAL


def test_trust_policy_scopes_one_service_account() -> None:
    def program() -> None:
        policy = irsa.trust_policy(
            "arn:aws:iam::1:oidc-provider/oidc.example/id/X",
            "https://oidc.example/id/X",
            irsa.service_account_subject("apps", "ingest"),
        )
        pulumi.export("policy", policy)

    plan = run_program("dev", MINIMAL, program)
    (statement,) = json.loads(str(plan.outputs["policy"]))["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": "arn:aws:iam::1:oidc-provider/oidc.example/id/X"}
    assert statement["Condition"]["StringEquals"] == {
        "oidc.example/id/X:sub": "system:serviceaccount:apps:ingest",
        "oidc.example/id/X:aud": "sts.amazonaws.com",
    }


def test_the_cluster_and_the_kubernetes_side_trust_the_same_way(prod: Plan) -> None:
    """The EBS CSI role (infra/cluster.py) and a service's role (infra/kubernetes/) share the
    document: only their subjects differ."""

    def statement(name: str) -> dict[str, Any]:
        role = prod.one("aws:iam/role:Role", name).plain
        (only,) = json.loads(role["assumeRolePolicy"])["Statement"]
        return dict(only)

    ebs, ingest = statement("cluster-ebs-csi"), statement("kubernetes-ingest-irsa")
    assert ebs["Principal"] == ingest["Principal"] == {"Federated": prod.outputs["oidcProviderArn"]}
    conditions = [s["Condition"]["StringEquals"] for s in (ebs, ingest)]
    subjects = [v for c in conditions for k, v in c.items() if k.endswith(":sub")]
    assert subjects == [
        "system:serviceaccount:kube-system:ebs-csi-controller-sa",
        "system:serviceaccount:gamemetrics:ingest",
    ]
