"""The ASGI entry point uvicorn imports in each worker (settings from the environment)."""

from serving.http.app import create_app
from serving.http.tuning import quiet_log_records

quiet_log_records()
app = create_app()
