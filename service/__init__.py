"""The gRPC microservice around the ledger engine."""
