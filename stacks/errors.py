"""Errors of the Pulumi program and its offline drivers (apart from the apps' errors)."""


class StackError(Exception):
    """Base of every error the program, its configuration or its offline drivers raise."""


class ConfigError(StackError):
    """A stack configuration key is missing or invalid; the message names the key and what is
    allowed. Raised at the start of the program, before any resource is declared."""
