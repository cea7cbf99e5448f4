"""Routers of the gateway, one module per resource."""
