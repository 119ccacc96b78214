"""Errors a service function raises for a caller's mistake. The web layer maps each to its
HTTP status and the CLI prints the message; neither has to know the other exists."""


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class Invalid(ServiceError):
    status = 422
    code = "invalid"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class TooManyAttempts(ServiceError):
    status = 429
    code = "too_many_attempts"


class Malformed(ServiceError):
    status = 400
    code = "malformed_json"


class NoSession(ServiceError):
    """A tablet must start a selling session first."""

    status = 409
    code = "no_session"


class SessionGone(ServiceError):
    """The session was closed (or force-closed): what the tablet had not synced is lost."""

    status = 410
    code = "session_closed"
