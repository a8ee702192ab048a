"""The service: FastAPI app, consent at request time, access control and the audit trail."""
