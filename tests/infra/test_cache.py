"""Cache: Redis encrypted at rest and in transit, AUTH token secret, failover in prod."""

import json

from stacks.offline.preview import Plan, Secret

GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"


def test_encrypted_at_rest_and_in_transit_with_an_auth_token(plans: dict[str, Plan]) -> None:
    for plan in plans.values():
        group = plan.one(GROUP)
        assert group.plain["atRestEncryptionEnabled"] is True
        assert group.plain["kmsKeyId"].startswith("arn:aws:kms:")
        assert group.plain["transitEncryptionEnabled"] is True
        assert group.plain["transitEncryptionMode"] == "required"
        assert isinstance(group.inputs["authToken"], Secret)
        assert len(group.plain["authToken"]) == 64


def test_only_the_private_subnets_reach_it_in_the_isolated_subnets(dev: Plan) -> None:
    subnets = dev.one("aws:elasticache/subnetGroup:SubnetGroup").plain["subnetIds"]
    assert all("isolated" in s for s in subnets)
    (rule,) = dev.one("aws:ec2/securityGroup:SecurityGroup", "cache-sg").plain["ingress"]
    assert (rule["fromPort"], rule["toPort"]) == (6379, 6379)
    assert all(c.startswith("10.10.") and c.endswith("/19") for c in rule["cidrBlocks"])


def test_failover_and_multi_az_in_staging_and_prod_only(plans: dict[str, Plan]) -> None:
    shape = {
        stack: (
            plan.one(GROUP).plain["numCacheClusters"],
            plan.one(GROUP).plain["automaticFailoverEnabled"],
            plan.one(GROUP).plain["multiAzEnabled"],
        )
        for stack, plan in plans.items()
    }
    assert shape == {"dev": (1, False, False), "staging": (2, True, True), "prod": (3, True, True)}


def test_the_token_is_kept_in_secrets_manager(prod: Plan) -> None:
    group = prod.one(GROUP)
    version = prod.one("aws:secretsmanager/secretVersion:SecretVersion", "cache-auth-token")
    assert isinstance(version.inputs["secretString"], Secret)
    stored = json.loads(version.plain["secretString"])
    assert stored["auth_token"] == group.plain["authToken"]
    assert stored["tls"] is True
    assert stored["port"] == 6379
