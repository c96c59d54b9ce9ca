"""TLS to the Kafka brokers: one declaration of the settings and of their environment names.

The services read it with `KafkaTls.from_env`; the infrastructure writes the
same variables with `KafkaTls.env` (infra/kubernetes/workload.py), so a name
cannot drift between the pod spec and the code that reads it. Locally the
embedded broker speaks plaintext and none of these variables is set.
"""

from dataclasses import dataclass
from typing import Final

from apps.core.config import PREFIX, EnvReader
from apps.core.errors import ConfigError

PROTOCOL: Final = "KAFKA_SECURITY_PROTOCOL"
CA_LOCATION: Final = "KAFKA_SSL_CA_LOCATION"
CERTIFICATE_LOCATION: Final = "KAFKA_SSL_CERTIFICATE_LOCATION"
KEY_LOCATION: Final = "KAFKA_SSL_KEY_LOCATION"
PROTOCOLS: Final = ("PLAINTEXT", "SSL")


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
            raise ConfigError(f"{PREFIX}{CA_LOCATION} is required with SSL")
        if (self.certificate_location is None) != (self.key_location is None):
            raise ConfigError(
                f"{PREFIX}{CERTIFICATE_LOCATION} and {PREFIX}{KEY_LOCATION} go together: "
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
        env = {PREFIX + PROTOCOL: "SSL", PREFIX + CA_LOCATION: self.ca_location}
        if self.certificate_location is not None:
            env[PREFIX + CERTIFICATE_LOCATION] = self.certificate_location
        if self.key_location is not None:
            env[PREFIX + KEY_LOCATION] = self.key_location
        return env

    @classmethod
    def from_env(cls, read: EnvReader) -> "KafkaTls | None":
        """None for plaintext. SSL settings without SSL are refused rather than ignored:
        an operator who set a CA expects encryption, not a silent plaintext connection."""
        protocol = read.text(PROTOCOL, "PLAINTEXT").strip().upper()
        if protocol not in PROTOCOLS:
            raise ConfigError(
                f"{read.key(PROTOCOL)}={protocol!r} is not supported; allowed: "
                + ", ".join(PROTOCOLS)
            )
        locations = {name: read.text(name, "") or None for name in _LOCATIONS}
        if protocol == "PLAINTEXT":
            given = [read.key(name) for name, value in locations.items() if value is not None]
            if given:
                raise ConfigError(
                    f"{', '.join(given)} set but {read.key(PROTOCOL)} is PLAINTEXT; "
                    "set it to SSL or unset them"
                )
            return None
        return cls(
            ca_location=locations[CA_LOCATION] or "",
            certificate_location=locations[CERTIFICATE_LOCATION],
            key_location=locations[KEY_LOCATION],
        )


_LOCATIONS: Final = (CA_LOCATION, CERTIFICATE_LOCATION, KEY_LOCATION)
