"""The candidates gRPC service."""
