"""Cluster: EKS with private endpoint, logging, KMS, IRSA, node groups and add-ons."""

import json

import pytest

from infra.cluster import CONTROL_PLANE_LOGS
from stacks.offline.preview import Plan, Secret

CLUSTER = "eks:index:Cluster"
NODE_GROUP = "eks:index:ManagedNodeGroup"


def test_api_server_is_private_with_a_public_allow_list_only_where_configured(
    plans: dict[str, Plan],
) -> None:
    for stack, plan in plans.items():
        eks = plan.one(CLUSTER).plain
        assert eks["endpointPrivateAccess"] is True
        cidrs = list(plan.settings.cluster.public_access_cidrs)
        assert eks["endpointPublicAccess"] is bool(cidrs)
        assert eks.get("publicAccessCidrs") == (cidrs or None), stack
    assert plans["prod"].one(CLUSTER).plain["endpointPublicAccess"] is False


def test_secrets_are_envelope_encrypted_and_every_control_plane_log_is_on(prod: Plan) -> None:
    eks = prod.one(CLUSTER).plain
    key = prod.one("aws:kms/key:Key", "cluster-secrets-key").plain
    assert key["enableKeyRotation"] is True
    assert eks["encryptionConfigKeyArn"].startswith("arn:aws:kms:eu-central-1:")
    assert eks["enabledClusterLogTypes"] == list(CONTROL_PLANE_LOGS)
    assert eks["createOidcProvider"] is True
    assert eks["authenticationMode"] == "API"
    assert eks["skipDefaultNodeGroup"] is True
    assert eks["deletionProtection"] is True
    assert eks["vpcCniOptions"]["enableNetworkPolicy"] is True


def test_node_groups_follow_the_stack(plans: dict[str, Plan]) -> None:
    for plan in plans.values():
        groups = {g.name: g.plain for g in plan.of_type(NODE_GROUP)}
        assert set(groups) == {f"cluster-{g.name}" for g in plan.settings.cluster.node_groups}
        for wanted in plan.settings.cluster.node_groups:
            group = groups[f"cluster-{wanted.name}"]
            assert group["scalingConfig"] == {
                "minSize": wanted.min_size,
                "desiredSize": wanted.desired_size,
                "maxSize": wanted.max_size,
            }
            assert group["instanceTypes"] == list(wanted.instance_types)
            assert group["capacityType"] == wanted.capacity_type
            assert len(group["subnetIds"]) == 3
            assert all("private" in s for s in group["subnetIds"])
    assert plans["dev"].one(NODE_GROUP).plain["capacityType"] == "SPOT"


def test_nodes_require_imdsv2_and_encrypt_their_disks(prod: Plan) -> None:
    for template in prod.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        metadata = template.plain["metadataOptions"]
        assert metadata["httpTokens"] == "required"
        assert metadata["httpPutResponseHopLimit"] == 1
        (disk,) = template.plain["blockDeviceMappings"]
        assert disk["ebs"]["encrypted"] == "true"


def test_core_add_ons_with_irsa_for_the_ebs_driver(dev: Plan) -> None:
    addons = {a.plain["addonName"]: a.plain for a in dev.of_type("aws:eks/addon:Addon")}
    assert set(addons) == {"coredns", "eks-pod-identity-agent", "aws-ebs-csi-driver"}
    assert ":role/cluster-ebs-csi" in addons["aws-ebs-csi-driver"]["serviceAccountRoleArn"]
    trust = json.loads(dev.one("aws:iam/role:Role", "cluster-ebs-csi").plain["assumeRolePolicy"])
    condition = trust["Statement"][0]["Condition"]["StringEquals"]
    assert any(
        v == "system:serviceaccount:kube-system:ebs-csi-controller-sa" for v in condition.values()
    )


def test_the_ebs_driver_may_use_the_volumes_key_through_grants_for_aws_resources(
    dev: Plan,
) -> None:
    key = dev.one("aws:kms/key:Key", "cluster-volumes-key").plain
    assert key["enableKeyRotation"] is True
    assert key["description"] == "gamemetrics-dev: EBS volumes of persistent volume claims"
    kms = dev.one("aws:iam/rolePolicy:RolePolicy", "cluster-ebs-csi-kms").plain
    assert kms["role"].startswith("cluster-ebs-csi-")
    grants, use = json.loads(kms["policy"])["Statement"]
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert set(grants["Action"]) == {"kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"}
    assert "kms:*" not in use["Action"]
    (key_arn,) = grants["Resource"]
    assert use["Resource"] == [key_arn]
    assert key_arn.startswith("arn:aws:kms:eu-west-1:123456789012:key/")


def test_the_kubernetes_provider_uses_the_cluster_kubeconfig_as_a_secret(dev: Plan) -> None:
    provider = dev.one("pulumi:providers:kubernetes", "cluster-k8s")
    assert isinstance(provider.inputs["kubeconfig"], Secret)
    assert json.loads(provider.plain["kubeconfig"])["current-context"] == "gamemetrics-dev"
    assert isinstance(dev.outputs["kubeconfig"], Secret)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_control_plane_components_use_the_stack_aws_provider(
    plans: dict[str, Plan], stack: str
) -> None:
    plan = plans[stack]
    aws_provider = plan.one("pulumi:providers:aws").urn
    assert plan.one(CLUSTER).providers["aws"] == aws_provider
    assert all(g.providers["aws"] == aws_provider for g in plan.of_type(NODE_GROUP))
