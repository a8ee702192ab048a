"""The ASGI entry point uvicorn imports in each worker (settings from the environment).

Started by `signpost serve` or by uvicorn directly, a worker writes only owner-only files, and
offers development sign-in only when `signpost serve` said where it listens (`LISTEN_HOST`).
"""

import os

from serving.http.app import create_app
from serving.http.server import LISTEN_HOST
from serving.http.tuning import quiet_log_records

os.umask(0o077)
quiet_log_records()
app = create_app(listen_host=os.environ.get(LISTEN_HOST))
