"""The analytics GraphQL API: metrics analysts read, from the rollups the processor keeps."""
