"""Cluster: EKS (pulumi-eks) with managed node groups, IRSA and the core add-ons.

The API server is private; a public endpoint exists only with an allow-list
from the stack configuration. Kubernetes secrets are envelope-encrypted with
a customer-managed key, every control-plane log type goes to CloudWatch, and
the nodes run in the private subnets with IMDSv2 only (hop limit 1: pods use
IRSA, never the node's role) and encrypted root volumes. The VPC CNI
enforces NetworkPolicies. `provider` is the pulumi-kubernetes Provider built
from the cluster's kubeconfig: every Kubernetes resource of the program uses it.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from infra import irsa
from infra.kms import encryption_key
from infra.kubernetes.placement import Taint
from infra.outputs import secret

CapacityType = Literal["ON_DEMAND", "SPOT"]
POOL_LABEL: Final = "gamemetrics.io/pool"
"""A node group labelled `gamemetrics.io/pool: <workload>` is reserved for that workload
(`kafka`): the workload's pods require the label and tolerate the group's taints."""


@dataclass(frozen=True, slots=True)
class NodeGroupConfig:
    name: str
    instance_types: tuple[str, ...] = ("m7i.large",)
    min_size: int = 2
    desired_size: int = 3
    max_size: int = 6
    capacity_type: CapacityType = "ON_DEMAND"
    disk_size_gib: int = 50
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    """Only pods that tolerate them run there (DaemonSets of the add-ons tolerate all)."""


CONTROL_PLANE_LOGS = ("api", "audit", "authenticator", "controllerManager", "scheduler")
_NODE_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryReadOnly",
    "AmazonSSMManagedInstanceCore",
)
_EBS_CSI_SERVICE_ACCOUNT = irsa.service_account_subject("kube-system", "ebs-csi-controller-sa")
_TAINT_EFFECTS = {
    "NoSchedule": "NO_SCHEDULE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
}
"""Kubernetes' spelling (the stack configuration's) to the EKS API's."""


@dataclass
class ClusterArgs:
    cluster_name: str
    kubernetes_version: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    public_subnet_ids: Sequence[pulumi.Input[str]]
    public_access_cidrs: Sequence[str]
    """Empty: no public endpoint at all."""
    node_groups: Sequence[NodeGroupConfig]
    deletion_protection: bool
    tags: Mapping[str, str]


class Cluster(pulumi.ComponentResource):
    cluster_name: str
    provider: k8s.Provider
    """Every Kubernetes resource of the program is created with this provider."""
    kubeconfig: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_provider_url: pulumi.Output[str]
    """Issuer host and path, without https:// (the IRSA trust condition's key prefix)."""
    node_role_arn: pulumi.Output[str]
    volumes_key_arn: pulumi.Output[str]
    """Customer-managed key for the EBS volumes of persistent volume claims (the gp3
    StorageClass); the EBS CSI controller may use it. Node root disks keep the EBS default key."""

    def __init__(
        self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gamemetrics:infra:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        self.cluster_name = args.cluster_name

        secrets_key = encryption_key(
            f"{name}-secrets-key",
            alias=f"{args.cluster_name}/eks-secrets",
            description=f"{args.cluster_name}: envelope encryption of Kubernetes secrets",
            tags=tags,
            parent=self,
        )
        node_role = aws.iam.Role(
            f"{name}-node",
            description=f"{args.cluster_name}: EKS worker nodes",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "ec2.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            tags=tags,
            opts=child,
        )
        for policy in _NODE_POLICIES:
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{policy}",
                role=node_role.name,
                policy_arn=f"arn:aws:iam::aws:policy/{policy}",
                opts=child,
            )

        public = bool(args.public_access_cidrs)
        cluster = eks.Cluster(
            f"{name}-eks",
            name=args.cluster_name,
            version=args.kubernetes_version,
            vpc_id=args.vpc_id,
            private_subnet_ids=list(args.private_subnet_ids),
            public_subnet_ids=list(args.public_subnet_ids),
            node_associate_public_ip_address=False,
            endpoint_private_access=True,
            endpoint_public_access=public,
            public_access_cidrs=list(args.public_access_cidrs) if public else None,
            enabled_cluster_log_types=list(CONTROL_PLANE_LOGS),
            encryption_config_key_arn=secrets_key.arn,
            create_oidc_provider=True,
            authentication_mode=eks.AuthenticationMode.API,
            skip_default_node_group=True,
            instance_roles=[node_role],
            deletion_protection=args.deletion_protection,
            vpc_cni_options=eks.VpcCniOptionsArgs(enable_network_policy=True),
            kube_proxy_addon_options=eks.KubeProxyAddonOptionsArgs(enabled=True),
            # CoreDNS needs nodes: installed below as a managed add-on after the node groups.
            coredns_addon_options=eks.CoreDnsAddonOptionsArgs(enabled=False),
            tags=tags,
            cluster_tags=tags,
            opts=child,
        )

        node_groups: list[pulumi.Resource] = []
        for group in args.node_groups:
            template = aws.ec2.LaunchTemplate(
                f"{name}-{group.name}",
                description=f"{args.cluster_name} {group.name} nodes: IMDSv2, encrypted disks",
                metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                    http_endpoint="enabled",
                    http_tokens="required",
                    http_put_response_hop_limit=1,
                ),
                block_device_mappings=[
                    aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                        device_name="/dev/xvda",
                        ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                            volume_size=group.disk_size_gib,
                            volume_type="gp3",
                            encrypted="true",
                            delete_on_termination="true",
                        ),
                    )
                ],
                tag_specifications=[
                    aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags)
                    for kind in ("instance", "volume", "network-interface")
                ],
                tags=tags,
                opts=child,
            )
            node_groups.append(
                eks.ManagedNodeGroup(
                    f"{name}-{group.name}",
                    cluster=cluster,
                    node_group_name_prefix=f"{args.cluster_name}-{group.name}-",
                    node_role=node_role,
                    subnet_ids=list(args.private_subnet_ids),
                    instance_types=list(group.instance_types),
                    capacity_type=group.capacity_type,
                    scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                        min_size=group.min_size,
                        desired_size=group.desired_size,
                        max_size=group.max_size,
                    ),
                    launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                        id=template.id, version=template.latest_version.apply(str)
                    ),
                    labels={"gamemetrics.io/node-group": group.name, **group.labels},
                    taints=[
                        aws.eks.NodeGroupTaintArgs(
                            key=t.key, value=t.value, effect=_TAINT_EFFECTS[t.effect]
                        )
                        for t in group.taints
                    ]
                    or None,
                    tags=tags,
                    opts=child,
                )
            )

        self.oidc_provider_arn = cluster.oidc_provider_arn
        self.oidc_provider_url = cluster.oidc_provider_url
        ebs_role = aws.iam.Role(
            f"{name}-ebs-csi",
            description=f"{args.cluster_name}: the EBS CSI controller (IRSA)",
            assume_role_policy=irsa.trust_policy(
                self.oidc_provider_arn, self.oidc_provider_url, _EBS_CSI_SERVICE_ACCOUNT
            ),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-ebs-csi",
            role=ebs_role.name,
            policy_arn="arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
            opts=child,
        )
        volumes_key = encryption_key(
            f"{name}-volumes-key",
            alias=f"{args.cluster_name}/ebs-volumes",
            description=f"{args.cluster_name}: EBS volumes of persistent volume claims",
            tags=tags,
            parent=self,
        )
        aws.iam.RolePolicy(
            f"{name}-ebs-csi-kms",
            role=ebs_role.id,
            policy=volumes_key.arn.apply(_ebs_csi_key_policy),
            opts=child,
        )
        after_nodes = pulumi.ResourceOptions(parent=self, depends_on=[cluster, *node_groups])
        addons: dict[str, pulumi.Input[str] | None] = {
            "coredns": None,
            "eks-pod-identity-agent": None,
            "aws-ebs-csi-driver": ebs_role.arn,
        }
        for addon, role_arn in addons.items():
            aws.eks.Addon(
                f"{name}-{addon}",
                cluster_name=args.cluster_name,
                addon_name=addon,
                service_account_role_arn=role_arn,
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="PRESERVE",
                tags=tags,
                opts=after_nodes,
            )

        self.kubeconfig = secret(cluster.kubeconfig_json)
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=node_groups),
        )
        self.node_role_arn = node_role.arn
        self.volumes_key_arn = volumes_key.arn
        self.register_outputs(
            {
                "volumes_key_arn": self.volumes_key_arn,
                "cluster_name": args.cluster_name,
                "kubeconfig": self.kubeconfig,
                "oidc_provider_arn": self.oidc_provider_arn,
                "oidc_provider_url": self.oidc_provider_url,
                "node_role_arn": self.node_role_arn,
            }
        )


def _ebs_csi_key_policy(key_arn: str) -> str:
    """What the EBS CSI controller needs to create, attach and resize volumes under a
    customer-managed key (AmazonEBSCSIDriverPolicy covers only the EBS default key)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "GrantsForEbs",
                    "Effect": "Allow",
                    "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                    "Resource": [key_arn],
                    "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
                },
                {
                    "Sid": "UseTheKey",
                    "Effect": "Allow",
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:DescribeKey",
                    ],
                    "Resource": [key_arn],
                },
            ],
        },
        sort_keys=True,
    )
