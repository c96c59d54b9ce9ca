"""Network: a VPC over three zones with public, private and isolated subnets.

Public subnets hold the NAT gateways and the internet-facing load balancers;
private subnets hold the EKS nodes and pods (outbound through NAT); isolated
subnets hold the data stores and have no route out of the VPC at all. Flow
logs go to a KMS-encrypted CloudWatch log group; S3 is reached through a
gateway endpoint and ECR through interface endpoints, so image pulls and
archive writes do not cross the NAT gateways.
"""

import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from infra.kms import encryption_key

NatGateways = Literal["single", "per-az"]

_INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr")


@dataclass(frozen=True, slots=True)
class SubnetPlan:
    """CIDR blocks per tier, one per zone, carved from the VPC block."""

    public: tuple[str, ...]
    private: tuple[str, ...]
    isolated: tuple[str, ...]


def plan_subnets(cidr: str, zones: int = 3) -> SubnetPlan:
    """Private subnets get an eighth of the VPC each (pods take one address each, with the VPC
    CNI); public and isolated subnets a sixty-fourth each, from the fourth eighth."""
    vpc = ipaddress.IPv4Network(cidr)
    eighths = list(vpc.subnets(prefixlen_diff=3))
    small = list(eighths[zones].subnets(prefixlen_diff=3))
    return SubnetPlan(
        public=tuple(str(n) for n in small[:zones]),
        private=tuple(str(n) for n in eighths[:zones]),
        isolated=tuple(str(n) for n in small[zones : 2 * zones]),
    )


@dataclass
class NetworkArgs:
    name_prefix: str
    cidr: str
    availability_zones: Sequence[str]
    nat_gateways: NatGateways
    flow_log_retention_days: int
    region: str
    account_id: pulumi.Input[str]
    tags: Mapping[str, str]


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    isolated_subnet_ids: list[pulumi.Output[str]]
    private_cidrs: tuple[str, ...]
    """Where the pods live: the data stores admit these blocks only."""
    nat_gateway_count: int

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gamemetrics:infra:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        prefix = args.name_prefix
        plan = plan_subnets(args.cidr, len(args.availability_zones))
        self.private_cidrs = plan.private

        def tags(name: str, **extra: str) -> dict[str, str]:
            return {**args.tags, "Name": name, **extra}

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=tags(f"{prefix}-vpc"),
            opts=child,
        )
        # The default security group admits nothing: every resource names its own.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg", vpc_id=vpc.id, tags=tags(f"{prefix}-default"), opts=child
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags=tags(f"{prefix}-igw"), opts=child
        )

        public: list[aws.ec2.Subnet] = []
        private: list[aws.ec2.Subnet] = []
        isolated: list[aws.ec2.Subnet] = []
        for i, zone in enumerate(args.availability_zones):
            public.append(
                aws.ec2.Subnet(
                    f"{name}-public-{i}",
                    vpc_id=vpc.id,
                    cidr_block=plan.public[i],
                    availability_zone=zone,
                    map_public_ip_on_launch=False,
                    tags=tags(f"{prefix}-public-{zone}", **{"kubernetes.io/role/elb": "1"}),
                    opts=child,
                )
            )
            private.append(
                aws.ec2.Subnet(
                    f"{name}-private-{i}",
                    vpc_id=vpc.id,
                    cidr_block=plan.private[i],
                    availability_zone=zone,
                    tags=tags(
                        f"{prefix}-private-{zone}", **{"kubernetes.io/role/internal-elb": "1"}
                    ),
                    opts=child,
                )
            )
            isolated.append(
                aws.ec2.Subnet(
                    f"{name}-isolated-{i}",
                    vpc_id=vpc.id,
                    cidr_block=plan.isolated[i],
                    availability_zone=zone,
                    tags=tags(f"{prefix}-isolated-{zone}"),
                    opts=child,
                )
            )

        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt", vpc_id=vpc.id, tags=tags(f"{prefix}-public"), opts=child
        )
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=child,
        )
        for i, subnet in enumerate(public):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}", route_table_id=public_rt.id, subnet_id=subnet.id, opts=child
            )

        # One NAT gateway per zone survives the loss of a zone; dev shares one to save cost.
        nat_count = 1 if args.nat_gateways == "single" else len(public)
        self.nat_gateway_count = nat_count
        nats: list[aws.ec2.NatGateway] = []
        for i in range(nat_count):
            zone = args.availability_zones[i]
            eip = aws.ec2.Eip(
                f"{name}-nat-{i}", domain="vpc", tags=tags(f"{prefix}-nat-{zone}"), opts=child
            )
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.allocation_id,
                    subnet_id=public[i].id,
                    tags=tags(f"{prefix}-nat-{zone}"),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )

        private_rts: list[aws.ec2.RouteTable] = []
        for i, subnet in enumerate(private):
            zone = args.availability_zones[i]
            rt = aws.ec2.RouteTable(
                f"{name}-private-rt-{i}",
                vpc_id=vpc.id,
                tags=tags(f"{prefix}-private-{zone}"),
                opts=child,
            )
            aws.ec2.Route(
                f"{name}-private-default-{i}",
                route_table_id=rt.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nats[i % nat_count].id,
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}", route_table_id=rt.id, subnet_id=subnet.id, opts=child
            )
            private_rts.append(rt)

        # Isolated subnets: the local route only (no internet, no NAT).
        isolated_rt = aws.ec2.RouteTable(
            f"{name}-isolated-rt", vpc_id=vpc.id, tags=tags(f"{prefix}-isolated"), opts=child
        )
        for i, subnet in enumerate(isolated):
            aws.ec2.RouteTableAssociation(
                f"{name}-isolated-{i}",
                route_table_id=isolated_rt.id,
                subnet_id=subnet.id,
                opts=child,
            )

        self._flow_logs(name, vpc, args, tags(f"{prefix}-flow-logs"))

        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in (*private_rts, isolated_rt)],
            tags=tags(f"{prefix}-s3"),
            opts=child,
        )
        endpoint_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints",
            vpc_id=vpc.id,
            description="HTTPS from inside the VPC to the interface endpoints",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_blocks=[args.cidr],
                    description="HTTPS from the VPC",
                )
            ],
            tags=tags(f"{prefix}-endpoints"),
            opts=child,
        )
        for service in _INTERFACE_ENDPOINTS:
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[s.id for s in private],
                security_group_ids=[endpoint_sg.id],
                tags=tags(f"{prefix}-{service}"),
                opts=child,
            )

        self.vpc_id = vpc.id
        self.public_subnet_ids = [s.id for s in public]
        self.private_subnet_ids = [s.id for s in private]
        self.isolated_subnet_ids = [s.id for s in isolated]
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "isolated_subnet_ids": self.isolated_subnet_ids,
            }
        )

    def _flow_logs(
        self, name: str, vpc: aws.ec2.Vpc, args: NetworkArgs, tags: Mapping[str, str]
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        key = encryption_key(
            f"{name}-flow-logs-key",
            alias=f"{args.name_prefix}/flow-logs",
            description=f"{args.name_prefix}: VPC flow logs",
            tags=tags,
            parent=self,
            logs=(args.account_id, args.region),
        )
        group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/gamemetrics/{args.name_prefix}/vpc-flow-logs",
            retention_in_days=args.flow_log_retention_days,
            kms_key_id=key.arn,
            tags=dict(tags),
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs",
            description="VPC flow logs deliver to their log group",
            assume_role_policy=pulumi.Output.from_input(args.account_id).apply(
                lambda account: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                            }
                        ],
                    }
                )
            ),
            tags=dict(tags),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": [
                                    "logs:CreateLogStream",
                                    "logs:PutLogEvents",
                                    "logs:DescribeLogStreams",
                                ],
                                "Resource": [arn, f"{arn}:*"],
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-logs",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=dict(tags),
            opts=child,
        )
