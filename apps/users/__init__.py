"""The users API: accounts, roles on games, sessions, the audit log, and the management of
games, ingest keys and analyst tokens over REST (`gamemetrics serve users`)."""
