"""GameMetrics services: the domain core and one sub-package per service."""
