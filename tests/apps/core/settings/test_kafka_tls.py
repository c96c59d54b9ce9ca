"""Kafka TLS settings: read from the environment, refused if inconsistent, loaded by librdkafka."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apps.core.errors import ConfigError
from apps.core.settings.ingest import IngestSettings
from apps.core.settings.kafka_tls import KafkaTls
from apps.core.settings.processor import ProcessorSettings
from apps.kafka.config import consumer_config, producer_config

Key = ec.EllipticCurvePrivateKey

BASE = {
    "GAMEMETRICS_POSTGRES_DSN": "postgresql://localhost/x",
    "GAMEMETRICS_KAFKA_BOOTSTRAP": "127.0.0.1:9",
    "GAMEMETRICS_REDIS_URL": "redis://localhost",
}
SSL = {
    "GAMEMETRICS_KAFKA_SECURITY_PROTOCOL": "SSL",
    "GAMEMETRICS_KAFKA_SSL_CA_LOCATION": "/etc/ca/ca.crt",
    "GAMEMETRICS_KAFKA_SSL_CERTIFICATE_LOCATION": "/etc/user/user.crt",
    "GAMEMETRICS_KAFKA_SSL_KEY_LOCATION": "/etc/user/user.key",
}


def _read(env: dict[str, str]) -> KafkaTls | None:
    return KafkaTls.from_env(env)


def test_plaintext_when_nothing_is_set() -> None:
    assert _read({}) is None
    assert _read({"GAMEMETRICS_KAFKA_SECURITY_PROTOCOL": "plaintext"}) is None
    assert IngestSettings.from_env(BASE).kafka_tls is None
    assert "security.protocol" not in producer_config("b:9", client_id="x")


def test_both_services_read_mutual_tls() -> None:
    expected = KafkaTls("/etc/ca/ca.crt", "/etc/user/user.crt", "/etc/user/user.key")
    assert IngestSettings.from_env(BASE | SSL).kafka_tls == expected
    assert ProcessorSettings.from_env(BASE | SSL).kafka_tls == expected
    assert _read(expected.env()) == expected


def test_server_verification_alone_needs_only_the_ca() -> None:
    tls = _read({"GAMEMETRICS_KAFKA_SECURITY_PROTOCOL": "ssl",
                 "GAMEMETRICS_KAFKA_SSL_CA_LOCATION": "/ca.crt"})  # fmt: skip
    assert tls == KafkaTls("/ca.crt")
    assert tls.librdkafka() == {"security.protocol": "ssl", "ssl.ca.location": "/ca.crt"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GAMEMETRICS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
         "GAMEMETRICS_KAFKA_SECURITY_PROTOCOL='SASL_SSL' is not supported; allowed: "
         "PLAINTEXT, SSL"),
        ({"GAMEMETRICS_KAFKA_SECURITY_PROTOCOL": "SSL"},
         "GAMEMETRICS_KAFKA_SSL_CA_LOCATION is required with SSL"),
        ({"GAMEMETRICS_KAFKA_SSL_CA_LOCATION": "/ca.crt"},
         "GAMEMETRICS_KAFKA_SSL_CA_LOCATION set but GAMEMETRICS_KAFKA_SECURITY_PROTOCOL is "
         "PLAINTEXT"),
        ({k: v for k, v in SSL.items() if not k.endswith("KEY_LOCATION")},
         "GAMEMETRICS_KAFKA_SSL_CERTIFICATE_LOCATION and GAMEMETRICS_KAFKA_SSL_KEY_LOCATION go "
         "together"),
    ],
)  # fmt: skip
def test_inconsistent_settings_are_refused_naming_the_variable(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        ProcessorSettings.from_env(BASE | env)
    assert message in str(raised.value)


def _pem_files(directory: Path) -> KafkaTls:
    """A throwaway CA and a client certificate it signed, as Strimzi mounts them."""
    now = datetime.now(UTC)

    def certificate(subject: str, key: Key, issuer: str, signer: Key) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=subject == issuer, path_length=None), True)
            .sign(signer, hashes.SHA256())
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    user_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate("test-ca", ca_key, "test-ca", ca_key)
    user = certificate("processor", user_key, "test-ca", ca_key)
    pem = serialization.Encoding.PEM
    (directory / "ca.crt").write_bytes(ca.public_bytes(pem))
    (directory / "user.crt").write_bytes(user.public_bytes(pem))
    (directory / "user.key").write_bytes(
        user_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return KafkaTls(
        str(directory / "ca.crt"), str(directory / "user.crt"), str(directory / "user.key")
    )


def test_librdkafka_loads_the_certificates_it_is_given(tmp_path: Path) -> None:
    """The property names and files are what librdkafka expects: it loads them when a
    client is created, and refuses a client whose files are missing."""
    tls = _pem_files(tmp_path)
    Producer(producer_config("127.0.0.1:9", client_id="t", tls=tls)).flush(0)
    Consumer(consumer_config("127.0.0.1:9", group_id="g", client_id="t", tls=tls)).close()

    (tmp_path / "user.key").unlink()
    with pytest.raises(KafkaException, match=r"ssl\.key\.location"):
        Producer(producer_config("127.0.0.1:9", client_id="t", tls=tls))
