"""Registry and image: ECR scans on push with immutable tags; the image is referenced by digest."""

import json
from pathlib import Path

import pulumi
import pytest

from infra.registry import Registry, RegistryArgs
from stacks import load
from stacks.errors import ConfigError
from stacks.image_source import find_project_root, image_tag
from stacks.offline.preview import Plan, Secret, run_program
from tests.stacks.test_config import MINIMAL, parse

ROOT = find_project_root(Path(__file__).parent)


def test_repository_scans_on_push_and_never_overwrites_a_tag(plans: dict[str, Plan]) -> None:
    for stack, plan in plans.items():
        repository = plan.one("aws:ecr/repository:Repository").plain
        assert repository["name"] == f"gamemetrics-{stack}/app"
        assert repository["imageTagMutability"] == "IMMUTABLE"
        assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repository["encryptionConfigurations"] == [{"encryptionType": "KMS"}]
        policy = json.loads(plan.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").plain["policy"])
        assert [r["selection"]["tagStatus"] for r in policy["rules"]] == ["untagged", "any"]


def test_image_is_built_from_the_root_dockerfile_with_the_content_tag(dev: Plan) -> None:
    image = dev.one("docker-build:index:Image")
    tag = image_tag(ROOT)
    assert image.plain["context"] == {"location": str(ROOT)}
    assert image.plain["dockerfile"] == {"location": f"{ROOT}/Dockerfile"}
    assert image.plain["tags"] == [
        f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/gamemetrics-dev/app:{tag}"
    ]
    assert image.plain["push"] is True
    assert image.plain["buildOnPreview"] is False
    assert image.plain["platforms"] == ["linux/amd64"]
    registries = image.inputs["registries"]
    assert isinstance(registries, list)
    assert registries[0]["username"] == "AWS"
    assert isinstance(registries[0]["password"], Secret)
    assert dev.outputs["imageTag"] == tag


def test_the_image_is_exported_by_digest(plans: dict[str, Plan]) -> None:
    refs = {stack: str(plan.outputs["imageRef"]) for stack, plan in plans.items()}
    for stack, ref in refs.items():
        repository, digest = ref.split("@")
        assert repository.endswith(f"/gamemetrics-{stack}/app")
        assert digest.startswith("sha256:")
        assert len(digest) == len("sha256:") + 64


def test_a_pinned_image_is_run_as_is_and_nothing_is_built() -> None:
    pinned = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/gamemetrics-dev/app@sha256:" + "ab" * 32
    values = {**MINIMAL, "gamemetrics:registry": {"pinnedImage": pinned}}
    plan = run_program("dev", values, lambda: pulumi.export("ref", _registry(values).image_ref))
    assert plan.of_type("docker-build:index:Image") == []
    assert plan.outputs["ref"] == pinned
    assert len(plan.of_type("aws:ecr/repository:Repository")) == 1


def test_a_pinned_image_must_be_a_digest_reference() -> None:
    with pytest.raises(ConfigError, match=r"gamemetrics:registry\.pinnedImage: expected a string"):
        parse(registry={"pinnedImage": "gamemetrics/app:latest"})


def _registry(values: dict[str, object]) -> Registry:
    settings = load.parse(values)
    return Registry(
        "registry",
        RegistryArgs(
            name_prefix=settings.name_prefix,
            settings=settings.registry,
            context_dir=str(ROOT),
            image_tag="src-0",
            tags=settings.tags.for_service("registry"),
        ),
    )
