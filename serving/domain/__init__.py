"""The service's rules: access, consent, audit, recommendations, early help, erasure, subject access.

Functions here return domain objects (dataclasses), never API schemas, so the API and the
pages are two faces of the same calls. Imports `serving.infra` (storage) and never
`serving.http`.
"""
