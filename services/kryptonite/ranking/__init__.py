"""The ranking gRPC service."""
