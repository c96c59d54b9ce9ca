"""TLS to the Kafka brokers: one declaration of the settings and of their environment names.

The services read it with `KafkaTls.from_env`; the infrastructure writes the
same variables with `KafkaTls.env` (infra/kubernetes/workload.py), so a name
cannot drift between the pod spec and the code that reads it. Locally the
embedded broker speaks plaintext and none of these variables is set.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from apps.core.errors import ConfigError
from apps.core.settings.contract import Settings, Variable, env

PROTOCOLS: Final = ("PLAINTEXT", "SSL")


def _protocol(key: str, raw: str) -> str:
    protocol = raw.strip().upper()
    if protocol not in PROTOCOLS:
        raise ConfigError(f"{key}={protocol!r} is not supported; allowed: {', '.join(PROTOCOLS)}")
    return protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class _Variables(Settings):
    """The variables as written; `KafkaTls.from_env` checks that they agree."""

    protocol: str = field(
        default="PLAINTEXT",
        metadata=env("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT or SSL", parse=_protocol),
    )
    ca_location: str | None = field(
        default=None,
        metadata=env(
            "KAFKA_SSL_CA_LOCATION", "PEM file of the CA the brokers' certificates chain to"
        ),
    )
    certificate_location: str | None = field(
        default=None,
        metadata=env("KAFKA_SSL_CERTIFICATE_LOCATION", "PEM file of the client certificate"),
    )
    key_location: str | None = field(
        default=None, metadata=env("KAFKA_SSL_KEY_LOCATION", "PEM file of the client key")
    )


_KEYS: Final = {v.field: v.key for v in _Variables.variables()}


@dataclass(frozen=True, slots=True)
class KafkaTls:
    """The cluster CA the brokers' certificates chain to, and the client's own
    certificate and key when the listener authenticates clients (Strimzi's
    `tls` authentication: one KafkaUser per service)."""

    ca_location: str
    certificate_location: str | None = None
    key_location: str | None = None

    def __post_init__(self) -> None:
        if not self.ca_location:
            raise ConfigError(f"{_KEYS['ca_location']} is required with SSL")
        if (self.certificate_location is None) != (self.key_location is None):
            raise ConfigError(
                f"{_KEYS['certificate_location']} and {_KEYS['key_location']} go together: "
                "set both for client authentication, or neither"
            )

    def librdkafka(self) -> dict[str, str]:
        """The client properties; librdkafka checks the files when the client is created."""
        config = {"security.protocol": "ssl", "ssl.ca.location": self.ca_location}
        if self.certificate_location is not None and self.key_location is not None:
            config["ssl.certificate.location"] = self.certificate_location
            config["ssl.key.location"] = self.key_location
        return config

    def env(self) -> dict[str, str]:
        """The environment `from_env` reads back into this object."""
        return _Variables(
            protocol="SSL",
            ca_location=self.ca_location,
            certificate_location=self.certificate_location,
            key_location=self.key_location,
        ).env()

    @classmethod
    def variables(cls) -> tuple[Variable, ...]:
        return _Variables.variables()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "KafkaTls | None":
        """None for plaintext. SSL settings without SSL are refused rather than ignored:
        an operator who set a CA expects encryption, not a silent plaintext connection."""
        read = _Variables.from_env(env)
        if read.protocol == "PLAINTEXT":
            given = [
                key for name, key in _KEYS.items()
                if name != "protocol" and getattr(read, name) is not None
            ]  # fmt: skip
            if given:
                raise ConfigError(
                    f"{', '.join(given)} set but {_KEYS['protocol']} is PLAINTEXT; "
                    "set it to SSL or unset them"
                )
            return None
        return cls(read.ca_location or "", read.certificate_location, read.key_location)
