"""Network: three zones, three tiers, NAT per stack, flow logs, endpoints."""

import ipaddress

from infra.network import plan_subnets
from stacks.offline.preview import Plan

SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"


def test_subnet_plan_carves_disjoint_blocks_inside_the_vpc() -> None:
    plan = plan_subnets("10.30.0.0/16")
    assert plan.private == ("10.30.0.0/19", "10.30.32.0/19", "10.30.64.0/19")
    assert plan.public == ("10.30.96.0/22", "10.30.100.0/22", "10.30.104.0/22")
    assert plan.isolated == ("10.30.108.0/22", "10.30.112.0/22", "10.30.116.0/22")
    blocks = [ipaddress.IPv4Network(c) for c in (*plan.public, *plan.private, *plan.isolated)]
    vpc = ipaddress.IPv4Network("10.30.0.0/16")
    assert all(b.subnet_of(vpc) for b in blocks)
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])
    small = plan_subnets("10.0.0.0/20")
    assert small.private[0] == "10.0.0.0/23"
    assert small.isolated[-1] == "10.0.7.64/26"


def test_three_zones_with_public_private_and_isolated_subnets(plans: dict[str, Plan]) -> None:
    for plan in plans.values():
        zones = plan.settings.network.availability_zones
        subnets = plan.of_type(SUBNET)
        assert len(subnets) == 9
        for tier in ("public", "private", "isolated"):
            tiered = [s for s in subnets if f"-{tier}-" in s.name]
            assert sorted(s.plain["availabilityZone"] for s in tiered) == sorted(zones)
        assert not any(s.plain.get("mapPublicIpOnLaunch") for s in subnets)


def test_one_nat_gateway_in_dev_and_one_per_zone_in_staging_and_prod(
    plans: dict[str, Plan],
) -> None:
    expected = {"dev": 1, "staging": 3, "prod": 3}
    for stack, plan in plans.items():
        assert len(plan.of_type("aws:ec2/natGateway:NatGateway")) == expected[stack]
        assert len(plan.of_type("aws:ec2/eip:Eip")) == expected[stack]
        nat_targets = {
            r.plain["natGatewayId"] for r in plan.of_type(ROUTE) if "natGatewayId" in r.plain
        }
        assert len(nat_targets) == expected[stack]


def test_isolated_subnets_have_no_route_out(prod: Plan) -> None:
    tables = {t.name: t for t in prod.of_type("aws:ec2/routeTable:RouteTable")}
    isolated_table = tables["network-isolated-rt"]
    routes = prod.of_type(ROUTE)
    assert not [r for r in routes if r.plain["routeTableId"].startswith("network-isolated-rt")]
    assert len([r for r in routes if "gatewayId" in r.plain]) == 1  # public -> internet gateway
    associations = [
        a
        for a in prod.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
        if a.plain["routeTableId"].startswith(isolated_table.name)
    ]
    assert len(associations) == 3


def test_flow_logs_go_to_an_encrypted_log_group_with_the_stack_retention(
    plans: dict[str, Plan],
) -> None:
    for plan in plans.values():
        flow = plan.one("aws:ec2/flowLog:FlowLog")
        assert flow.plain["trafficType"] == "ALL"
        group = plan.one("aws:cloudwatch/logGroup:LogGroup", "network-flow-logs")
        assert flow.plain["logDestination"].endswith(group.plain["name"])
        assert group.plain["retentionInDays"] == plan.settings.network.flow_log_retention_days
        assert group.plain["kmsKeyId"].startswith("arn:aws:kms:")
        key = plan.one("aws:kms/key:Key", "network-flow-logs-key")
        assert f"logs.{plan.settings.region}.amazonaws.com" in key.plain["policy"]


def test_s3_gateway_and_ecr_interface_endpoints(prod: Plan) -> None:
    endpoints = {
        e.plain["serviceName"]: e.plain for e in prod.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    }
    assert set(endpoints) == {
        "com.amazonaws.eu-central-1.s3",
        "com.amazonaws.eu-central-1.ecr.api",
        "com.amazonaws.eu-central-1.ecr.dkr",
    }
    s3 = endpoints["com.amazonaws.eu-central-1.s3"]
    assert s3["vpcEndpointType"] == "Gateway"
    assert len(s3["routeTableIds"]) == 4
    for name in ("ecr.api", "ecr.dkr"):
        ecr = endpoints[f"com.amazonaws.eu-central-1.{name}"]
        assert ecr["vpcEndpointType"] == "Interface"
        assert ecr["privateDnsEnabled"] is True


def test_the_default_security_group_admits_nothing(dev: Plan) -> None:
    default = dev.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert not default.plain.get("ingress")
    assert not default.plain.get("egress")
