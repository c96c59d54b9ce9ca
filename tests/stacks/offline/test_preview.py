"""The offline engine: records the tree, keeps secrets wrapped, redacts them for display."""

import json

import pulumi
import pulumi_aws as aws
import pytest

from stacks.errors import ConfigError
from stacks.offline.preview import REDACTED, Plan, Secret, key_inputs, run_program
from tests.stacks.test_config import MINIMAL


class Box(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("test:index:Box", name, None, None)
        secret = aws.secretsmanager.Secret(
            f"{name}-secret", tags={"a": "b"}, opts=pulumi.ResourceOptions(parent=self)
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-version",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret("hunter2"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})


def program() -> None:
    box = Box("box")
    pulumi.export("name", "box")
    pulumi.export("token", pulumi.Output.secret("s3cr3t"))
    pulumi.export("urn", box.urn)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return run_program("dev", MINIMAL, program)


def test_records_type_name_parent_and_inputs(plan: Plan) -> None:
    stack = plan.one("pulumi:pulumi:Stack")
    assert stack.parent is None
    assert stack.name == "gamemetrics-dev"
    box = plan.one("test:index:Box")
    assert box.parent == stack.urn
    assert not box.custom
    version = plan.one("aws:secretsmanager/secretVersion:SecretVersion")
    assert version.parent == box.urn
    assert version.custom
    assert version.plain["secretId"].startswith("box-secret-")
    assert [r.name for r in plan.descendants(box)] == ["box-secret", "box-version"]


def test_secrets_stay_wrapped_and_are_redacted_for_display(plan: Plan) -> None:
    version = plan.one("aws:secretsmanager/secretVersion:SecretVersion")
    assert version.inputs["secretString"] == Secret("hunter2")
    assert version.plain["secretString"] == "hunter2"
    assert version.redacted()["secretString"] == REDACTED
    assert plan.outputs["token"] == Secret("s3cr3t")
    shown = plan.render() + json.dumps(plan.to_json())
    assert "hunter2" not in shown
    assert "s3cr3t" not in shown
    assert "output token = [secret]" in plan.render()


def test_json_lists_every_resource_with_its_parent(plan: Plan) -> None:
    listed = plan.to_json()
    assert [r["type"] for r in listed][:2] == ["pulumi:pulumi:Stack", "test:index:Box"]
    assert all({"type", "name", "parent", "inputs"} <= set(r) for r in listed)
    urns = {r["urn"] for r in listed}
    assert all(r["parent"] in urns for r in listed if r["parent"] is not None)


def test_render_draws_the_tree(plan: Plan) -> None:
    lines = plan.render().splitlines()
    assert lines[0] == "pulumi:pulumi:Stack  gamemetrics-dev"
    assert lines[1] == "└─ test:index:Box  box"
    assert lines[2].startswith("   ├─ aws:secretsmanager/secret:Secret  box-secret")
    assert lines[3].startswith("   └─ aws:secretsmanager/secretVersion:SecretVersion  box-version")
    assert "4 resources" in lines


def test_credential_inputs_are_redacted_even_when_not_marked_secret(plan: Plan) -> None:
    from stacks.offline.preview import Resource

    resource = Resource("urn:x", "t", "n", None, True, None, {"password": "plain", "size": 3})
    assert key_inputs(resource) == {"password": REDACTED, "size": "3"}


def test_an_invalid_configuration_fails_before_the_program_runs() -> None:
    ran: list[bool] = []
    with pytest.raises(ConfigError, match="gamemetrics:environment"):
        run_program("dev", {**MINIMAL, "gamemetrics:environment": "qa"}, lambda: ran.append(True))
    assert not ran


def test_a_failing_program_leaves_the_engine_usable() -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_program("dev", MINIMAL, broken)
    again = run_program("dev", MINIMAL, program)
    assert len(again.resources) == 4


def test_tls_resources_get_well_formed_pem_outputs_and_the_key_stays_secret() -> None:
    import pulumi_tls as tls

    def with_a_ca() -> None:
        key = tls.PrivateKey("ca-key", algorithm="ECDSA", ecdsa_curve="P256")
        cert = tls.SelfSignedCert(
            "ca",
            private_key_pem=key.private_key_pem,
            is_ca_certificate=True,
            validity_period_hours=48,
            allowed_uses=["cert_signing"],
            subject=tls.SelfSignedCertSubjectArgs(common_name="ca"),
        )
        pulumi.export("key", key.private_key_pem)
        pulumi.export("cert", cert.cert_pem)
        pulumi.export("until", cert.validity_end_time)

    plan = run_program("dev", MINIMAL, with_a_ca)
    key, cert = plan.outputs["key"], plan.outputs["cert"]
    assert isinstance(key, Secret)
    assert str(key.value).startswith("-----BEGIN EC PRIVATE KEY-----\n")
    assert str(key.value).endswith("-----END EC PRIVATE KEY-----\n")
    assert str(cert).startswith("-----BEGIN CERTIFICATE-----\n")
    assert all(len(line) <= 64 for line in str(cert).splitlines())
    assert plan.outputs["until"] == "2026-01-03T00:00:00Z"
    # Secret as the engine keeps it (the provider declares it so): never displayed.
    shown = plan.render() + json.dumps(plan.to_json())
    assert str(key.value).splitlines()[1] not in shown
    # Deterministic: the plan of the same program does not change between runs.
    assert run_program("dev", MINIMAL, with_a_ca).outputs == plan.outputs
