"""IAM roles for service accounts (IRSA): the trust policy of a role one service account assumes.

A module of its own so that the cluster (infra/cluster.py) and the Kubernetes side
(infra/kubernetes/) share one document without either importing the other: importing
infra.cluster loads pulumi-eks.
"""

import json

import pulumi


def service_account_subject(namespace: str, service_account: str) -> str:
    return f"system:serviceaccount:{namespace}:{service_account}"


def trust_policy(
    oidc_provider_arn: pulumi.Input[str], oidc_provider_url: pulumi.Input[str], subject: str
) -> pulumi.Output[str]:
    """Only `subject` (`system:serviceaccount:<namespace>:<name>`), with an STS audience, may
    assume the role, through the cluster's OIDC provider. The issuer URL may carry `https://`."""

    def document(arn: str, url: str) -> str:
        issuer = url.removeprefix("https://")
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": arn},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringEquals": {
                                f"{issuer}:sub": subject,
                                f"{issuer}:aud": "sts.amazonaws.com",
                            }
                        },
                    }
                ],
            },
            sort_keys=True,
        )

    return pulumi.Output.all(oidc_provider_arn, oidc_provider_url).apply(
        lambda v: document(str(v[0]), str(v[1]))
    )
