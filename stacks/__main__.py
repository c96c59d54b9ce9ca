"""The Pulumi program of every stack (dev, staging, prod): wiring only.

Reads the stack's typed configuration once (stacks/config.py), creates the
components in dependency order and exports what operators and the
Kubernetes side need. What differs between stacks is configuration, never code.
"""

from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra.archive_catalog import ArchiveCatalog, ArchiveCatalogArgs
from infra.cache import Cache, CacheArgs
from infra.cluster import Cluster, ClusterArgs
from infra.database import DATABASE_NAME, MASTER_USER, Database, DatabaseArgs
from infra.kubernetes.backends import (
    Backends,
    EksCluster,
    Irsa,
    ObjectStorage,
    PostgresEndpoint,
    RedisEndpoint,
)
from infra.kubernetes.platform import KubernetesPlatform, KubernetesPlatformArgs
from infra.network import Network, NetworkArgs
from infra.registry import Registry, RegistryArgs
from infra.storage import Storage, StorageArgs
from stacks import load
from stacks.image_source import find_project_root, image_tag

settings = load.from_pulumi()
tags = settings.tags
prefix = settings.name_prefix
root = find_project_root(Path.cwd(), Path(__file__).parent)

# One explicit provider: the region from the typed config, and default tags as a safety net
# for resources created inside pulumi-eks (every resource of ours also passes tags= itself).
aws_provider = aws.Provider(
    "aws", region=settings.region, default_tags=aws.ProviderDefaultTagsArgs(tags=tags.defaults())
)
on_aws = pulumi.ResourceOptions(providers=[aws_provider])
account_id = aws.get_caller_identity_output(
    opts=pulumi.InvokeOutputOptions(provider=aws_provider)
).account_id

network = Network(
    "network",
    NetworkArgs(
        name_prefix=prefix,
        cidr=settings.network.cidr,
        availability_zones=settings.network.availability_zones,
        nat_gateways=settings.network.nat_gateways,
        flow_log_retention_days=settings.network.flow_log_retention_days,
        region=settings.region,
        account_id=account_id,
        tags=tags.for_service("network"),
    ),
    on_aws,
)
cluster = Cluster(
    "cluster",
    ClusterArgs(
        cluster_name=prefix,
        kubernetes_version=settings.cluster.kubernetes_version,
        vpc_id=network.vpc_id,
        private_subnet_ids=network.private_subnet_ids,
        public_subnet_ids=network.public_subnet_ids,
        public_access_cidrs=settings.cluster.public_access_cidrs,
        node_groups=settings.cluster.node_groups,
        deletion_protection=settings.cluster.deletion_protection,
        tags=tags.for_service("cluster"),
    ),
    on_aws,
)
database = Database(
    "database",
    DatabaseArgs(
        name_prefix=prefix,
        settings=settings.database,
        vpc_id=network.vpc_id,
        subnet_ids=network.isolated_subnet_ids,
        client_cidrs=network.private_cidrs,
        tags=tags.for_service("database"),
    ),
    on_aws,
)
cache = Cache(
    "cache",
    CacheArgs(
        name_prefix=prefix,
        settings=settings.cache,
        vpc_id=network.vpc_id,
        subnet_ids=network.isolated_subnet_ids,
        client_cidrs=network.private_cidrs,
        tags=tags.for_service("cache"),
    ),
    on_aws,
)
storage = Storage(
    "storage",
    StorageArgs(name_prefix=prefix, settings=settings.storage, tags=tags.for_service("storage")),
    on_aws,
)
archive_catalog = ArchiveCatalog(
    "archive-catalog",
    ArchiveCatalogArgs(
        name_prefix=prefix,
        archive_bucket=storage.archive.bucket_name,
        kms_key_arn=storage.kms_key_arn,
        settings=settings.athena,
        force_destroy=settings.storage.force_destroy,
        tags=tags.for_service("archive-catalog"),
    ),
    on_aws,
)
registry = Registry(
    "registry",
    RegistryArgs(
        name_prefix=prefix,
        settings=settings.registry,
        context_dir=str(root),
        image_tag=image_tag(root),
        tags=tags.for_service("registry"),
    ),
    on_aws,
)
buckets = {
    "archive": storage.archive.bucket_name,
    "backups": storage.backups.bucket_name,
    "logs": storage.logs.bucket_name,
}

# Everything on the cluster (infra/kubernetes/): it takes the cluster's Kubernetes provider and
# plain values of the AWS components; its own AWS resources (IRSA roles) use the AWS provider.
platform = KubernetesPlatform(
    "kubernetes",
    KubernetesPlatformArgs(
        provider=cluster.provider,
        stack=settings.environment,
        image=registry.image_ref,
        backends=Backends(
            vpc_cidr=settings.network.cidr,
            postgres=PostgresEndpoint(
                host=database.address,
                password=database.password,
                port=database.port,
                database=DATABASE_NAME,
                username=MASTER_USER,
                secret_arn=database.secret_arn,
            ),
            redis=RedisEndpoint(
                host=cache.primary_address, auth_token=cache.auth_token, port=cache.port
            ),
            storage=ObjectStorage(buckets=buckets, kms_key_arn=storage.kms_key_arn),
            tags=tags.for_service("kubernetes"),
        ),
        irsa=Irsa(cluster.oidc_provider_arn, cluster.oidc_provider_url),
        cluster=EksCluster(
            name=cluster.cluster_name,
            region=settings.region,
            vpc_id=network.vpc_id,
            volumes_kms_key_arn=cluster.volumes_key_arn,
        ),
        ingress=settings.ingress.settings(source_cidrs=[settings.network.cidr]),
        grafana_admin_password=None,  # generated by the Observability component
        kafka_brokers=settings.kafka.brokers,
        kafka_storage_gib=settings.kafka.storage_gib,
        kafka_placement=settings.cluster.placement("kafka"),
        mesh=settings.mesh.enabled,
        monitoring_replicas=settings.observability.monitoring_replicas,
        metrics_retention_days=settings.observability.metrics_retention_days,
        logs_retention_days=settings.observability.logs_retention_days,
        traces_retention_days=settings.observability.traces_retention_days,
    ),
    opts=pulumi.ResourceOptions(providers=[aws_provider, cluster.provider]),
)

pulumi.export("environment", settings.environment)
pulumi.export("region", settings.region)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("oidcProviderArn", cluster.oidc_provider_arn)
pulumi.export("databaseAddress", database.address)
pulumi.export("databaseReaderAddresses", database.reader_addresses)
pulumi.export("databaseSecretArn", database.secret_arn)
pulumi.export("redisAddress", cache.primary_address)
pulumi.export("redisSecretArn", cache.auth_secret_arn)
pulumi.export("buckets", buckets)
pulumi.export("archiveGlueDatabase", archive_catalog.database_name)
pulumi.export("archiveGlueTable", archive_catalog.table_name)
pulumi.export("athenaWorkgroup", archive_catalog.workgroup_name)
pulumi.export("athenaResultsBucket", archive_catalog.results_bucket)
pulumi.export("imageTag", registry.image_tag)
pulumi.export("imageRef", registry.image_ref)
