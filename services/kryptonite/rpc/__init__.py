"""gRPC contracts, server bootstrap, interceptors and typed async clients."""
