"""The gp3 StorageClass: the cluster's default, encrypted with the volumes key, used by Kafka."""

import json

import pytest

from infra.kubernetes.storage_class import DEFAULT_CLASS_ANNOTATION, GP3
from stacks.config import TAG_KEYS
from stacks.offline.preview import Plan
from stacks.offline.validate import validate_objects
from tests.infra.kubernetes import harness


def test_gp3_is_the_default_class_encrypted_with_the_volumes_key() -> None:
    program = harness.platform("dev")
    (storage_class,) = program.kind("StorageClass")
    assert storage_class.object_name == GP3 == "gp3"
    assert storage_class.inputs["metadata"]["annotations"] == {DEFAULT_CLASS_ANNOTATION: "true"}
    assert storage_class.inputs["provisioner"] == "ebs.csi.aws.com"
    assert storage_class.inputs["parameters"] == {
        "type": "gp3",
        "encrypted": "true",
        "kmsKeyId": harness.VOLUMES_KEY,
        "csi.storage.k8s.io/fstype": "ext4",
        # The volumes carry the stack's tags, as every AWS resource does.
        "tagSpecification_1": "cost-center=gm",
        "tagSpecification_2": "environment=test",
        "tagSpecification_3": "owner=platform",
    }
    assert storage_class.inputs["volumeBindingMode"] == "WaitForFirstConsumer"
    assert storage_class.inputs["allowVolumeExpansion"] is True
    validate_objects([o for o in program.objects() if o["kind"] == "StorageClass"])


def test_kafka_and_the_monitoring_volumes_use_it_after_it_exists() -> None:
    program = harness.platform("prod")
    (storage_class,) = program.kind("StorageClass")
    pool = program.one("KafkaNodePool", "dual-role", "kafka")
    (volume,) = pool.spec["storage"]["volumes"]
    assert volume["class"] == storage_class.object_name
    assert volume["deleteClaim"] is False
    assert storage_class.urn in pool.dependencies
    releases = program.releases()
    prometheus = releases["kube-prometheus-stack"].inputs["values"]["prometheus"]
    claim = prometheus["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == GP3
    assert releases["loki"].inputs["values"]["singleBinary"]["persistence"]["storageClass"] == GP3
    assert releases["tempo"].inputs["values"]["persistence"]["storageClassName"] == GP3


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_each_stack_encrypts_its_volumes_with_the_cluster_volumes_key(
    plans: dict[str, Plan], stack: str
) -> None:
    plan = plans[stack]
    (storage_class,) = plan.of_type("kubernetes:storage.k8s.io/v1:StorageClass")
    key = plan.one("aws:kms/key:Key", "cluster-volumes-key")
    assert key.plain["enableKeyRotation"] is True
    parameters = storage_class.plain["parameters"]
    key_arn = parameters["kmsKeyId"]
    assert key_arn.startswith(f"arn:aws:kms:{plan.settings.region}:")
    tags = dict(v.split("=", 1) for k, v in parameters.items() if k.startswith("tagSpecification_"))
    assert set(TAG_KEYS) <= set(tags)
    assert (tags["environment"], tags["cost-center"]) == (stack, f"gamemetrics-{stack}")
    # The EBS CSI controller may use exactly that key.
    policy = plan.one("aws:iam/rolePolicy:RolePolicy", "cluster-ebs-csi-kms").plain["policy"]
    assert {r for s in json.loads(policy)["Statement"] for r in s["Resource"]} == {key_arn}
