"""The processor: events from Kafka into PostgreSQL once each, rollups in the same transaction."""
