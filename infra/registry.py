"""Registry and image: the ECR repository and the one application image built into it.

The repository scans every pushed image and refuses to overwrite a tag. The
image is built with pulumi-docker-build from the root Dockerfile and tagged
with the content hash of its inputs (infra/image_source.py), so an unchanged
application is not rebuilt and a changed one gets a new tag. Deployments use
`image_ref`, the reference by digest (`<repository>@sha256:...`), so what runs
is exactly what was built and scanned.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from infra.outputs import secret


@dataclass(frozen=True, slots=True)
class RegistryConfig:
    untagged_image_days: int = 7
    max_images: int = 200
    force_delete: bool = False
    platform: str = "linux/amd64"
    pinned_image: str | None = None
    """`<repository>@sha256:<digest>`: run this image and build none (rollback, promotion)."""


@dataclass
class RegistryArgs:
    name_prefix: str
    settings: RegistryConfig
    context_dir: str
    """The repository root (the image's build context)."""
    image_tag: str
    """stacks.image_source.image_tag(context_dir)."""
    tags: Mapping[str, str]


class Registry(pulumi.ComponentResource):
    repository_url: pulumi.Output[str]
    image_tag: str
    image_ref: pulumi.Output[str]
    """`<repository url>@<digest>`: what every Deployment runs."""

    def __init__(
        self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gamemetrics:infra:Registry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = args.settings
        repository = aws.ecr.Repository(
            f"{name}-app",
            name=f"{args.name_prefix}/app",
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                scan_on_push=True
            ),
            encryption_configurations=[
                aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS")
            ],
            force_delete=cfg.force_delete,
            tags=dict(args.tags),
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-app",
            repository=repository.name,
            policy=json.dumps(_lifecycle(cfg)),
            opts=child,
        )
        self.repository_url = repository.repository_url
        self.image_tag = args.image_tag
        if cfg.pinned_image is not None:
            # Rollback or promotion: run an image that exists already, build nothing.
            self.image_ref = pulumi.Output.from_input(cfg.pinned_image)
        else:
            self.image_ref = self._build(name, args, repository)
        self.register_outputs(
            {
                "repository_url": self.repository_url,
                "image_tag": self.image_tag,
                "image_ref": self.image_ref,
            }
        )

    def _build(
        self, name: str, args: RegistryArgs, repository: aws.ecr.Repository
    ) -> pulumi.Output[str]:
        auth = aws.ecr.get_authorization_token_output(
            registry_id=repository.registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        image = docker_build.Image(
            f"{name}-app",
            context=docker_build.BuildContextArgs(location=args.context_dir),
            dockerfile=docker_build.DockerfileArgs(location=f"{args.context_dir}/Dockerfile"),
            platforms=[docker_build.Platform(args.settings.platform)],
            tags=[pulumi.Output.concat(repository.repository_url, ":", args.image_tag)],
            push=True,
            # Previews (and policy checks) need no Docker daemon; `pulumi up` builds.
            build_on_preview=False,
            registries=[
                docker_build.RegistryArgs(
                    address=repository.repository_url,
                    username=auth.user_name,
                    password=secret(auth.password),
                )
            ],
            labels={
                "org.opencontainers.image.title": "gamemetrics",
                "org.opencontainers.image.version": args.image_tag,
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        return pulumi.Output.concat(repository.repository_url, "@", image.digest)


def _lifecycle(cfg: RegistryConfig) -> dict[str, object]:
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"untagged images go after {cfg.untagged_image_days} days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": cfg.untagged_image_days,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": f"keep the newest {cfg.max_images} images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": cfg.max_images,
                },
                "action": {"type": "expire"},
            },
        ]
    }
