"""The service: FastAPI app, consent at request time, access control and the audit trail.

Three layers, each importing only those below it: `serving.http` (app, middleware, API and
page routes) → `serving.domain` (the rules) → `serving.infra` (database, stores, clients).
"""
