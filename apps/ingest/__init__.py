"""The ingestion API: POST /v1/events, validated events into Kafka, 2xx only when durable."""
