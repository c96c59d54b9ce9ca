"""The cluster's default StorageClass: encrypted gp3 EBS volumes through the EBS CSI driver.

Every persistent volume of the platform uses it: the Kafka brokers' (KafkaNodePool), and
Prometheus', Loki's and Tempo's. EKS marks no class as the default since Kubernetes 1.30,
so a claim that names no class gets this one.
"""

from collections.abc import Mapping
from typing import Final

import pulumi
import pulumi_kubernetes as k8s

from infra.kubernetes.meta import labels

GP3: Final = "gp3"
PROVISIONER: Final = "ebs.csi.aws.com"
DEFAULT_CLASS_ANNOTATION: Final = "storageclass.kubernetes.io/is-default-class"


def gp3_storage_class(
    resource_name: str,
    *,
    stack: str,
    kms_key_arn: pulumi.Input[str] | None,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.storage.v1.StorageClass:
    """`gp3`, encrypted with `kms_key_arn` (None: the account's default EBS key) and tagged
    with `tags`, as every AWS resource of the stack. Volumes are created in the zone of the
    pod that first uses them, and may grow, never shrink."""
    parameters: dict[str, pulumi.Input[str]] = {
        "type": "gp3",
        "encrypted": "true",
        "csi.storage.k8s.io/fstype": "ext4",
    }
    if kms_key_arn is not None:
        parameters["kmsKeyId"] = kms_key_arn
    # The EBS CSI driver's way to tag the volumes it creates: tagSpecification_<n> = key=value.
    for n, (key, value) in enumerate(sorted(tags.items()), start=1):
        parameters[f"tagSpecification_{n}"] = f"{key}={value}"
    return k8s.storage.v1.StorageClass(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=GP3,
            labels=labels(GP3, "storage", stack),
            annotations={DEFAULT_CLASS_ANNOTATION: "true"},
        ),
        provisioner=PROVISIONER,
        parameters=parameters,
        # EBS volumes are zonal: bind where the pod is scheduled (rack-aware brokers).
        volume_binding_mode="WaitForFirstConsumer",
        allow_volume_expansion=True,
        reclaim_policy="Delete",
        opts=opts,
    )
