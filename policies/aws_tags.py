"""Required tags on every taggable AWS resource (and pulumi-eks's tagged components).

A resource's tags are its own `tags` merged over its provider's `defaultTags`:
the provider's defaults count, as AWS applies them.
"""

from typing import Final

from pulumi_policy import ReportViolation, ResourceValidationArgs

from policies.support import about, config_list, has, mapping, resource_policy

REQUIRED_TAGS: Final = ("environment", "service", "owner", "cost-center")
TAGGABLE: Final = frozenset(
    {
        "aws:acm/certificate:Certificate",
        "aws:athena/workgroup:Workgroup",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:dynamodb/table:Table",
        "aws:ebs/volume:Volume",
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "aws:ec2/eip:Eip",
        "aws:ec2/flowLog:FlowLog",
        "aws:ec2/instance:Instance",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/networkAcl:NetworkAcl",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/vpc:Vpc",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:ecr/repository:Repository",
        "aws:eks/addon:Addon",
        "aws:eks/cluster:Cluster",
        "aws:eks/nodeGroup:NodeGroup",
        "aws:elasticache/cluster:Cluster",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:elasticache/subnetGroup:SubnetGroup",
        "aws:glue/catalogDatabase:CatalogDatabase",
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "aws:iam/policy:Policy",
        "aws:iam/role:Role",
        "aws:kms/key:Key",
        "aws:lambda/function:Function",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:lb/targetGroup:TargetGroup",
        "aws:rds/cluster:Cluster",
        "aws:rds/clusterInstance:ClusterInstance",
        "aws:rds/instance:Instance",
        "aws:rds/parameterGroup:ParameterGroup",
        "aws:rds/subnetGroup:SubnetGroup",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "aws:secretsmanager/secret:Secret",
        "aws:sns/topic:Topic",
        "aws:sqs/queue:Queue",
        "eks:index:Cluster",
        "eks:index:ManagedNodeGroup",
    }
)
"""Types that take `tags` (checked against pulumi-aws in the tests); any other AWS resource
that sets `tags` is checked too."""


def _provider_defaults(args: ResourceValidationArgs) -> dict[str, str]:
    if args.provider is None or not has(args.provider.props, "defaultTags"):
        return {}
    # Provider configuration reaches the analyzer as JSON text (or, from newer engines, as an
    # object); either way {"tags": {...}}.
    tags = mapping(mapping(args.provider.props["defaultTags"]).get("tags"))
    return {str(k): str(v) for k, v in tags.items()}


def aws_required_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    taggable = args.resource_type in TAGGABLE or (
        args.resource_type.startswith("aws:") and has(args.props, "tags")
    )
    if not taggable:
        return
    required = config_list(args.get_config(), "requiredTags") or list(REQUIRED_TAGS)
    tags = _provider_defaults(args)
    own = mapping(args.props.get("tags")) if has(args.props, "tags") else {}
    tags.update({str(k): str(v) for k, v in own.items() if v is not None})
    missing = [t for t in required if not tags.get(t)]
    if missing:
        report(
            f"{about(args)} lacks the tags {', '.join(missing)}. Fix: tag it with "
            f"{', '.join(required)} (its own tags, or the provider's defaultTags).",
            None,
        )


POLICIES: Final = [
    resource_policy(
        "aws-required-tags",
        "Taggable AWS resources carry the environment, service, owner and cost-center tags.",
        aws_required_tags,
        {
            "requiredTags": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(REQUIRED_TAGS),
            }
        },
    ),
]
