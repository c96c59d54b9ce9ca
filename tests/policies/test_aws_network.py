"""Security groups, the default security group and flow logs: cases with exact messages."""

import pytest

from policies.offline import OfflineAnalyzer
from tests.policies.harness import Case, check, found, res

SG = "aws:ec2/securityGroup:SecurityGroup"
VPC = "aws:ec2/vpc:Vpc"
WORLD_HTTPS = {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}
FIX = (
    "Fix: admit the VPC's ranges, an allow-list or another security group; only a load "
    "balancer's security group may admit the internet, and only on 443."
)


def _world_ingress_case() -> Case:
    lb_sg = res(SG, "alb", {"ingress": [WORLD_HTTPS]})
    lb = res("aws:lb/loadBalancer:LoadBalancer", "alb", {"internal": False}, deps=[lb_sg])
    internal = res(
        SG,
        "db",
        {
            "ingress": [
                {"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrBlocks": ["10.0.0.0/16"]}
            ]
        },
    )
    # Not a load balancer's group: HTTPS from anywhere is not allowed on it.
    app = res(SG, "app", {"ingress": [WORLD_HTTPS]})
    ssh = res(SG, "bastion", {})
    ssh_rule = res(
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        "ssh",
        {
            "type": "ingress",
            "protocol": "tcp",
            "fromPort": 22,
            "toPort": 22,
            "cidrBlocks": ["0.0.0.0/0"],
        },
        deps=[ssh],
    )
    # A rule on a group the stack does not declare (the EKS cluster's, say).
    v6 = res(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "all-v6",
        {"ipProtocol": "-1", "cidrIpv6": "::/0", "securityGroupId": "sg-cluster"},
    )
    lb_http = res(SG, "alb-http", {"ingress": [{**WORLD_HTTPS, "fromPort": 80, "toPort": 80}]})
    lb2 = res("aws:lb/loadBalancer:LoadBalancer", "alb2", {}, deps=[lb_http])
    return Case(
        "security-group-no-world-ingress",
        good=[lb_sg, lb, internal],
        bad=[app, ssh, ssh_rule, v6, lb_http, lb2],
        expected=[
            ("app", f'{SG} "app" admits 0.0.0.0/0 on tcp 443. {FIX}'),
            (
                "ssh",
                'aws:ec2/securityGroupRule:SecurityGroupRule "ssh" admits 0.0.0.0/0 on tcp 22 on '
                f"security group bastion. {FIX}",
            ),
            ("alb-http", f'{SG} "alb-http" admits 0.0.0.0/0 on tcp 80. {FIX}'),
            (
                "all-v6",
                'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule "all-v6" admits ::/0 on '
                f"all ports. {FIX}",
            ),
        ],
    )


def _flow_logs_case() -> Case:
    vpc = res(VPC, "vpc", {"cidrBlock": "10.0.0.0/16"})
    logged = res("aws:ec2/flowLog:FlowLog", "flow", {"trafficType": "ALL"}, deps=[vpc])
    bare = res(VPC, "bare", {"cidrBlock": "10.1.0.0/16"})
    partial = res(VPC, "partial", {"cidrBlock": "10.2.0.0/16"})
    rejects = res("aws:ec2/flowLog:FlowLog", "rejects", {"trafficType": "REJECT"}, deps=[partial])
    return Case(
        "vpc-flow-logs",
        good=[vpc, logged],
        bad=[bare, partial, rejects],
        expected=[
            (
                "bare",
                f'{VPC} "bare" has no flow log. Fix: add an aws.ec2.FlowLog with vpcId of this VPC '
                "and trafficType ALL, to CloudWatch Logs or S3.",
            ),
            (
                "partial",
                f'{VPC} "partial" logs only REJECT traffic. Fix: set trafficType: ALL on its flow '
                "log.",
            ),
        ],
    )


CASES = [
    _world_ingress_case(),
    Case(
        "vpc-default-security-group-closed",
        good=[
            res("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "default", {"vpcId": "vpc-1"})
        ],
        bad=[
            res(
                "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
                "default",
                {"vpcId": "vpc-1", "egress": [{"protocol": "-1", "cidrBlocks": ["0.0.0.0/0"]}]},
            )
        ],
        expected=[
            (
                "default",
                'aws:ec2/defaultSecurityGroup:DefaultSecurityGroup "default" has egress rules: '
                "anything launched without a security group would get them. Fix: declare the "
                "default security group with no rules and give every resource its own group.",
            )
        ],
    ),
    _flow_logs_case(),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_policy(analyzer: OfflineAnalyzer, case: Case) -> None:
    check(analyzer, case)


def test_allowed_ports_come_from_the_policy_configuration(analyzer: OfflineAnalyzer) -> None:
    sg = res(SG, "alb", {"ingress": [{**WORLD_HTTPS, "fromPort": 8443, "toPort": 8443}]})
    lb = res("aws:lb/loadBalancer:LoadBalancer", "alb", {}, deps=[sg])
    policy = "security-group-no-world-ingress"
    assert len(found(analyzer, policy, [sg, lb])) == 1
    assert found(analyzer, policy, [sg, lb], {"allowedPorts": [8443]}) == []
