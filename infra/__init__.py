"""Pulumi ComponentResources of the AWS deployment. Reads the apps' declarations
(apps.core.services, apps.core.topics) and nothing else of the apps."""
