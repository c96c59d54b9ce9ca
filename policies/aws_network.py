"""The VPC: security groups, the default security group, flow logs.

The only ingress from anywhere is HTTPS into a load balancer; everything else
names the VPC's ranges or another security group.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from policies.support import (
    WORLD,
    about,
    about_resource,
    dependencies_of_type,
    dependents,
    is_true,
    items,
    mapping,
    number,
    of_type,
    resource_policy,
    show,
    stack_policy,
    strings,
)

VPC: Final = "aws:ec2/vpc:Vpc"
SUBNET: Final = "aws:ec2/subnet:Subnet"
SECURITY_GROUP: Final = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP: Final = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SG_RULE: Final = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_INGRESS_RULE: Final = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
INGRESS_RULE_TYPES: Final = (SG_RULE, SG_INGRESS_RULE)
ROUTE_TABLE: Final = "aws:ec2/routeTable:RouteTable"
ROUTE: Final = "aws:ec2/route:Route"
ROUTE_TABLE_ASSOCIATION: Final = "aws:ec2/routeTableAssociation:RouteTableAssociation"
INTERNET_GATEWAY: Final = "aws:ec2/internetGateway:InternetGateway"
FLOW_LOG: Final = "aws:ec2/flowLog:FlowLog"
LOAD_BALANCERS: Final = (
    "aws:lb/loadBalancer:LoadBalancer",
    "aws:alb/loadBalancer:LoadBalancer",
    "aws:elb/loadBalancer:LoadBalancer",
)
ALLOWED_WORLD_PORTS: Final = (443,)


@dataclass(frozen=True, slots=True)
class Ingress:
    source: str
    protocol: str
    from_port: float | None
    to_port: float | None
    rule: PolicyResource | None
    """The separate rule resource that opens it (None: the group's inline `ingress`)."""

    @property
    def ports(self) -> str:
        if self.protocol in ("-1", "all"):
            return "all ports"
        if self.from_port == self.to_port:
            return f"{self.protocol} {show(self.from_port)}"
        return f"{self.protocol} {show(self.from_port)}-{show(self.to_port)}"

    def only_port(self, allowed: Sequence[float]) -> bool:
        tcp = self.protocol in ("tcp", "6")
        return tcp and self.from_port == self.to_port and self.from_port in allowed


def _sources(rule: object, *keys: str) -> list[str]:
    found: list[str] = []
    for key in keys:
        found += strings(mapping(rule).get(key))
    return found


def ingresses(sg: PolicyResource, resources: Sequence[PolicyResource]) -> list[Ingress]:
    """Every source a security group admits: its inline rules and the rule resources on it."""
    found: list[Ingress] = []
    for rule in items(sg.props.get("ingress")):
        r = mapping(rule)
        protocol = str(r.get("protocol", "-1"))
        low, high = number(r.get("fromPort")), number(r.get("toPort"))
        found.extend(
            Ingress(source, protocol, low, high, None)
            for source in _sources(r, "cidrBlocks", "ipv6CidrBlocks")
        )
    for rule in dependents(resources, sg, *INGRESS_RULE_TYPES):
        found += rule_ingresses(rule)
    return found


def rule_ingresses(rule: PolicyResource) -> list[Ingress]:
    p = rule.props
    if rule.resource_type == SG_RULE:
        if p.get("type") != "ingress":
            return []
        sources = _sources(p, "cidrBlocks", "ipv6CidrBlocks")
        protocol = str(p.get("protocol", "-1"))
    else:
        sources = _sources(p, "cidrIpv4", "cidrIpv6")
        protocol = str(p.get("ipProtocol", "-1"))
    return [
        Ingress(s, protocol, number(p.get("fromPort")), number(p.get("toPort")), rule)
        for s in sources
    ]


def ingress_sources(
    sg: PolicyResource, resources: Sequence[PolicyResource]
) -> list[tuple[str, str]]:
    return [(i.source, i.ports) for i in ingresses(sg, resources)]


def public_subnets(resources: Sequence[PolicyResource]) -> set[str]:
    """URNs of the subnets that give addresses or a route to the internet gateway."""
    open_tables: set[str] = set()
    for route in of_type(resources, ROUTE):
        to_world = {
            route.props.get("destinationCidrBlock"),
            route.props.get("destinationIpv6CidrBlock"),
        } & WORLD
        if to_world and dependencies_of_type(route, INTERNET_GATEWAY):
            open_tables |= {t.urn for t in dependencies_of_type(route, ROUTE_TABLE)}
    for table in of_type(resources, ROUTE_TABLE):
        inline = [mapping(r) for r in items(table.props.get("routes"))]
        if dependencies_of_type(table, INTERNET_GATEWAY) and any(
            r.get("cidrBlock") in WORLD or r.get("ipv6CidrBlock") in WORLD for r in inline
        ):
            open_tables.add(table.urn)
    public = {
        s.urn for s in of_type(resources, SUBNET) if is_true(s.props.get("mapPublicIpOnLaunch"))
    }
    for association in of_type(resources, ROUTE_TABLE_ASSOCIATION):
        if any(t.urn in open_tables for t in dependencies_of_type(association, ROUTE_TABLE)):
            public |= {s.urn for s in dependencies_of_type(association, SUBNET)}
    return public


def security_group_no_world_ingress(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = args.resources
    configured = [number(p) for p in items(args.get_config().get("allowedPorts"))]
    allowed = [p for p in configured if p is not None] or [float(p) for p in ALLOWED_WORLD_PORTS]
    balanced = {
        sg.urn
        for lb in of_type(resources, *LOAD_BALANCERS)
        for sg in dependencies_of_type(lb, SECURITY_GROUP)
    }
    seen: set[str] = set()
    groups = list(of_type(resources, SECURITY_GROUP, DEFAULT_SECURITY_GROUP))
    openings: list[tuple[PolicyResource | None, Ingress]] = [
        (sg, i) for sg in groups for i in ingresses(sg, resources)
    ]
    # Rules on groups the stack does not declare (the EKS cluster's, say) stand alone.
    grouped = {i.rule.urn for _, i in openings if i.rule is not None}
    for rule in of_type(resources, *INGRESS_RULE_TYPES):
        if rule.urn not in grouped:
            openings += [(None, i) for i in rule_ingresses(rule)]
    shown_ports = ", ".join(str(int(p)) for p in allowed)
    for sg, ingress in openings:
        if ingress.source not in WORLD:
            continue
        if sg is not None and sg.urn in balanced and ingress.only_port(allowed):
            continue
        target = ingress.rule or sg
        assert target is not None
        key = f"{target.urn}|{ingress.source}|{ingress.ports}"
        if key in seen:
            continue
        seen.add(key)
        where = "" if sg is None or ingress.rule is None else f" on security group {sg.name}"
        report(
            f"{about_resource(target)} admits {ingress.source} on {ingress.ports}{where}. Fix: "
            "admit the VPC's ranges, an allow-list or another security group; only a load "
            f"balancer's security group may admit the internet, and only on {shown_ports}.",
            target.urn,
        )


def default_security_group_closed(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != DEFAULT_SECURITY_GROUP:
        return
    rules = [k for k in ("ingress", "egress") if items(args.props.get(k))]
    if rules:
        report(
            f"{about(args)} has {' and '.join(rules)} rules: anything launched without a "
            "security group would get them. Fix: declare the default security group with no "
            "rules and give every resource its own group.",
            None,
        )


def vpc_flow_logs(args: StackValidationArgs, report: ReportViolation) -> None:
    for vpc in of_type(args.resources, VPC):
        logs = dependents(args.resources, vpc, FLOW_LOG)
        if not logs:
            report(
                f"{about_resource(vpc)} has no flow log. Fix: add an aws.ec2.FlowLog with "
                "vpcId of this VPC and trafficType ALL, to CloudWatch Logs or S3.",
                vpc.urn,
            )
        elif not any(log.props.get("trafficType") == "ALL" for log in logs):
            kinds = sorted({show(log.props.get("trafficType")) for log in logs})
            report(
                f"{about_resource(vpc)} logs only {', '.join(kinds)} traffic. Fix: set "
                "trafficType: ALL on its flow log.",
                vpc.urn,
            )


POLICIES: Final = [
    stack_policy(
        "security-group-no-world-ingress",
        "No security group admits 0.0.0.0/0 or ::/0, except HTTPS into a load balancer.",
        security_group_no_world_ingress,
        {
            "allowedPorts": {
                "type": "array",
                "items": {"type": "integer"},
                "default": list(ALLOWED_WORLD_PORTS),
            }
        },
    ),
    resource_policy(
        "vpc-default-security-group-closed",
        "The VPC's default security group has no rules.",
        default_security_group_closed,
    ),
    stack_policy(
        "vpc-flow-logs",
        "Every VPC records all its traffic in flow logs.",
        vpc_flow_logs,
    ),
]
