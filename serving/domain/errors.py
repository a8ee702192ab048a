"""Domain outcomes that become HTTP answers (mapped in serving/http/errors.py), each with advice."""


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(ServiceError):
    status, code = 404, "not_found"


class Gone(ServiceError):
    """The person was erased: nothing about them is served any more."""

    status, code = 410, "erased"


class Invalid(ServiceError):
    """Well-formed JSON that breaks a rule of the data contract."""

    status, code = 422, "invalid"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class Unavailable(ServiceError):
    """A prerequisite (processed data, a model) is missing; /readyz says which."""

    status, code = 503, "unavailable"
