"""The loyalty ledger engine: usable without gRPC, so finance can replay it directly."""
