"""The content gRPC service."""
