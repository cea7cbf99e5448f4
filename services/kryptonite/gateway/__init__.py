"""The HTTP gateway: FastAPI app built by :func:`kryptonite.gateway.app.create_app`."""
