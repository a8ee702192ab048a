"""The service's storage and clients: database engine, tables, migrations, served log,
revocations store, rate-limit counters, processed data, model registry client, ticker, seeding.

Imports neither `serving.domain` nor `serving.http`.
"""
