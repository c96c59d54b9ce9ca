"""The domain core: event schema, validation, declarations. Imports no framework or driver."""
