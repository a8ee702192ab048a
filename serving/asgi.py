"""The ASGI entry point uvicorn imports in each worker (settings from the environment)."""

from serving.app import create_app

app = create_app()
