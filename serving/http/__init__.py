"""The service's HTTP face: app factory, middleware, error handlers, API and page routes.

Routes are thin: each turns a request into one call of a `serving.domain` function and its
result into a response. This layer imports `serving.domain` and `serving.infra`; nothing
below imports it.
"""
