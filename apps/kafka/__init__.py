"""Kafka plumbing shared by the services: client configuration, async producer, topic admin."""
