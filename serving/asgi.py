"""The ASGI entry point uvicorn imports in each worker (settings from the environment)."""

import logging

from serving.app import create_app

# The service's JSON log lines carry none of what these make every record compute (the
# calling frame's file and line, thread and process names): skip it, as the logging HOWTO's
# "Optimization" section advises. Only in the server's workers, so tests keep the detail.
logging._srcfile = None
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False

app = create_app()
