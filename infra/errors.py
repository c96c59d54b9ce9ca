"""Errors of the infrastructure program (one hierarchy for infra/, apart from the apps' errors)."""


class InfraError(Exception):
    """Base of every error the infrastructure program raises on purpose."""


class ConfigError(InfraError):
    """A stack configuration key is missing or invalid; the message names the key and what is
    allowed. Raised at the start of the program, before any resource is declared."""
