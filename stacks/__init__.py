"""The Pulumi program's entry and its typed stack configuration."""
