"""The EKS cluster, its nodes and the ECR registry its images come from.

pulumi-eks's `eks:index:Cluster` is a component: `pulumi preview` analyzes it
and the `aws:eks/cluster:Cluster` it creates; the offline check sees the
component only (its children come from the pulumi-eks plugin). Each rule reads
both, with pulumi-eks's defaults (public endpoint open to the world, no
logging, no envelope encryption) where a property is not set.
"""

from typing import Final

from pulumi_policy import ReportViolation, ResourceValidationArgs

from policies.support import (
    WORLD,
    about,
    config_list,
    dig,
    is_false,
    is_true,
    mapping,
    resource_policy,
    show,
    strings,
)

EKS_COMPONENT: Final = "eks:index:Cluster"
EKS_CLUSTER: Final = "aws:eks/cluster:Cluster"
ECR_REPOSITORY: Final = "aws:ecr/repository:Repository"
LAUNCH_TEMPLATE: Final = "aws:ec2/launchTemplate:LaunchTemplate"
EC2_INSTANCE: Final = "aws:ec2/instance:Instance"
CONTROL_PLANE_LOGS: Final = ("api", "audit", "authenticator", "controllerManager", "scheduler")


def eks_secrets_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    if args.resource_type == EKS_COMPONENT:
        ok = bool(props.get("encryptionConfigKeyArn"))
        fix = "set encryptionConfigKeyArn to a customer-managed KMS key with rotation"
    elif args.resource_type == EKS_CLUSTER:
        config = mapping(props.get("encryptionConfig"))
        ok = "secrets" in strings(config.get("resources")) and bool(
            dig(config, "provider", "keyArn")
        )
        fix = 'set encryptionConfig {resources: ["secrets"], provider: {keyArn: <KMS key>}}'
    else:
        return
    if not ok:
        report(
            f"{about(args)} stores Kubernetes Secrets without envelope encryption. Fix: {fix}.",
            None,
        )


def eks_control_plane_logging(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in (EKS_COMPONENT, EKS_CLUSTER):
        return
    required = config_list(args.get_config(), "requiredLogTypes") or list(CONTROL_PLANE_LOGS)
    enabled = set(strings(args.props.get("enabledClusterLogTypes")))
    missing = [t for t in required if t not in enabled]
    if missing:
        report(
            f"{about(args)} does not send the {', '.join(missing)} control-plane logs to "
            f"CloudWatch. Fix: set enabledClusterLogTypes to {', '.join(required)}.",
            None,
        )


def eks_endpoint_restricted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    if args.resource_type == EKS_COMPONENT:
        endpoint = props
    elif args.resource_type == EKS_CLUSTER:
        endpoint = mapping(props.get("vpcConfig"))
    else:
        return
    problems = []
    if not is_true(endpoint.get("endpointPrivateAccess")):
        problems.append("the private endpoint is off (endpointPrivateAccess not true)")
    # Both pulumi-eks and the EKS API open the public endpoint to 0.0.0.0/0 by default.
    if not is_false(endpoint.get("endpointPublicAccess")):
        cidrs = strings(endpoint.get("publicAccessCidrs")) or ["0.0.0.0/0"]
        world = [c for c in cidrs if c in WORLD]
        if world:
            problems.append(f"the public endpoint admits {', '.join(world)}")
    if problems:
        report(
            f"{about(args)} exposes its API server: {'; '.join(problems)}. Fix: set "
            "endpointPrivateAccess: true and endpointPublicAccess: false, or keep the public "
            "endpoint with publicAccessCidrs limited to an allow-list "
            "(gamemetrics:cluster.publicAccessCidrs).",
            None,
        )


def ecr_scan_on_push(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != ECR_REPOSITORY:
        return
    value = dig(args.props, "imageScanningConfiguration", "scanOnPush")
    if not is_true(value):
        report(
            f"{about(args)} does not scan images on push (imageScanningConfiguration.scanOnPush: "
            f"{show(value)}). Fix: set imageScanningConfiguration: {{scanOnPush: true}}.",
            None,
        )


def ecr_immutable_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != ECR_REPOSITORY:
        return
    value = args.props.get("imageTagMutability")
    if value != "IMMUTABLE":
        report(
            f"{about(args)} lets a tag be pushed again (imageTagMutability: {show(value)}). "
            "Fix: set imageTagMutability: IMMUTABLE; deploy by digest.",
            None,
        )


def ec2_imdsv2(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in (LAUNCH_TEMPLATE, EC2_INSTANCE):
        return
    options = mapping(args.props.get("metadataOptions"))
    if options.get("httpEndpoint") == "disabled":
        return
    if options.get("httpTokens") != "required":
        report(
            f"{about(args)} serves instance metadata without a session token "
            f"(metadataOptions.httpTokens: {show(options.get('httpTokens'))}), so a pod "
            "that reaches it can read the node's credentials. Fix: set metadataOptions "
            "{httpTokens: required, httpPutResponseHopLimit: 1}.",
            None,
        )


POLICIES: Final = [
    resource_policy(
        "eks-secrets-encrypted",
        "EKS encrypts Kubernetes Secrets with a KMS key (envelope encryption).",
        eks_secrets_encrypted,
    ),
    resource_policy(
        "eks-control-plane-logging",
        "EKS sends its control-plane logs to CloudWatch.",
        eks_control_plane_logging,
        {
            "requiredLogTypes": {
                "type": "array",
                "items": {"type": "string", "enum": list(CONTROL_PLANE_LOGS)},
                "default": list(CONTROL_PLANE_LOGS),
            }
        },
    ),
    resource_policy(
        "eks-endpoint-restricted",
        "The EKS API server is private, or public only to an allow-list.",
        eks_endpoint_restricted,
    ),
    resource_policy(
        "ecr-scan-on-push",
        "ECR repositories scan every image on push.",
        ecr_scan_on_push,
    ),
    resource_policy(
        "ecr-immutable-tags",
        "ECR repositories have immutable tags.",
        ecr_immutable_tags,
    ),
    resource_policy(
        "ec2-imdsv2",
        "Nodes require IMDSv2 (session tokens) for instance metadata.",
        ec2_imdsv2,
    ),
]
