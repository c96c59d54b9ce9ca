"""EKS, ECR and instance metadata: cases with exact messages, for the pulumi-eks component
(what the offline plan holds) and the aws:eks/cluster:Cluster it creates under the CLI."""

import pytest

from policies.offline import OfflineAnalyzer
from tests.policies.harness import Case, check, found, res

EKS = "eks:index:Cluster"
RAW = "aws:eks/cluster:Cluster"
ECR = "aws:ecr/repository:Repository"
LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1"
SAFE_EKS = {
    "encryptionConfigKeyArn": KEY,
    "enabledClusterLogTypes": LOGS,
    "endpointPrivateAccess": True,
    "endpointPublicAccess": False,
}
SAFE_RAW = {
    "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": KEY}},
    "enabledClusterLogTypes": LOGS,
    "vpcConfig": {
        "endpointPrivateAccess": True,
        "endpointPublicAccess": True,
        "publicAccessCidrs": ["203.0.113.0/24"],
    },
}
ENDPOINT_FIX = (
    "Fix: set endpointPrivateAccess: true and endpointPublicAccess: false, or keep the public "
    "endpoint with publicAccessCidrs limited to an allow-list "
    "(gamemetrics:cluster.publicAccessCidrs)."
)

CASES = [
    Case(
        "eks-secrets-encrypted",
        good=[res(EKS, "eks", SAFE_EKS), res(RAW, "raw", SAFE_RAW)],
        bad=[
            res(EKS, "eks", {**SAFE_EKS, "encryptionConfigKeyArn": ""}),
            res(RAW, "raw", {**SAFE_RAW, "encryptionConfig": {"resources": ["configmaps"]}}),
        ],
        expected=[
            (
                "eks",
                f'{EKS} "eks" stores Kubernetes Secrets without envelope encryption. Fix: set '
                "encryptionConfigKeyArn to a customer-managed KMS key with rotation.",
            ),
            (
                "raw",
                f'{RAW} "raw" stores Kubernetes Secrets without envelope encryption. Fix: set '
                'encryptionConfig {resources: ["secrets"], provider: {keyArn: <KMS key>}}.',
            ),
        ],
    ),
    Case(
        "eks-control-plane-logging",
        good=[res(EKS, "eks", SAFE_EKS), res(RAW, "raw", SAFE_RAW)],
        bad=[res(EKS, "eks", {**SAFE_EKS, "enabledClusterLogTypes": ["api", "scheduler"]})],
        expected=[
            (
                "eks",
                f'{EKS} "eks" does not send the audit, authenticator, controllerManager '
                "control-plane logs to CloudWatch. Fix: set enabledClusterLogTypes to api, audit, "
                "authenticator, controllerManager, scheduler.",
            )
        ],
    ),
    Case(
        "eks-endpoint-restricted",
        good=[res(EKS, "eks", SAFE_EKS), res(RAW, "raw", SAFE_RAW)],
        bad=[
            res(EKS, "defaults", {"encryptionConfigKeyArn": KEY}),
            res(
                RAW,
                "raw",
                {
                    **SAFE_RAW,
                    "vpcConfig": {
                        "endpointPrivateAccess": True,
                        "publicAccessCidrs": ["0.0.0.0/0"],
                    },
                },
            ),
        ],
        expected=[
            (
                "defaults",
                f'{EKS} "defaults" exposes its API server: the private endpoint is off '
                "(endpointPrivateAccess not true); the public endpoint admits 0.0.0.0/0. "
                + ENDPOINT_FIX,
            ),
            (
                "raw",
                f'{RAW} "raw" exposes its API server: the public endpoint admits 0.0.0.0/0. '
                f"{ENDPOINT_FIX}",
            ),
        ],
    ),
    Case(
        "ecr-scan-on-push",
        good=[res(ECR, "app", {"imageScanningConfiguration": {"scanOnPush": True}})],
        bad=[res(ECR, "app", {"imageTagMutability": "IMMUTABLE"})],
        expected=[
            (
                "app",
                f'{ECR} "app" does not scan images on push (imageScanningConfiguration.scanOnPush: '
                "not set). Fix: set imageScanningConfiguration: {scanOnPush: true}.",
            )
        ],
    ),
    Case(
        "ecr-immutable-tags",
        good=[res(ECR, "app", {"imageTagMutability": "IMMUTABLE"})],
        bad=[res(ECR, "app", {"imageTagMutability": "MUTABLE"})],
        expected=[
            (
                "app",
                f'{ECR} "app" lets a tag be pushed again (imageTagMutability: MUTABLE). Fix: set '
                "imageTagMutability: IMMUTABLE; deploy by digest.",
            )
        ],
    ),
    Case(
        "ec2-imdsv2",
        good=[
            res(
                "aws:ec2/launchTemplate:LaunchTemplate",
                "nodes",
                {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1}},
            ),
            res(
                "aws:ec2/instance:Instance",
                "quiet",
                {"metadataOptions": {"httpEndpoint": "disabled"}},
            ),
        ],
        bad=[
            res("aws:ec2/instance:Instance", "vm", {"metadataOptions": {"httpTokens": "optional"}})
        ],
        expected=[
            (
                "vm",
                'aws:ec2/instance:Instance "vm" serves instance metadata without a session token '
                "(metadataOptions.httpTokens: optional), so a pod that reaches it can read the "
                "node's credentials. Fix: set metadataOptions {httpTokens: required, "
                "httpPutResponseHopLimit: 1}.",
            )
        ],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_policy(analyzer: OfflineAnalyzer, case: Case) -> None:
    check(analyzer, case)


def test_required_log_types_come_from_the_policy_configuration(analyzer: OfflineAnalyzer) -> None:
    eks = res(EKS, "eks", {**SAFE_EKS, "enabledClusterLogTypes": ["api", "audit"]})
    assert (
        found(analyzer, "eks-control-plane-logging", [eks], {"requiredLogTypes": ["api", "audit"]})
        == []
    )
