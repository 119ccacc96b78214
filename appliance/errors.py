"""Errors a service function raises for a caller's mistake. The web layer maps each to its
HTTP status and the CLI prints the message; neither has to know the other exists."""


class ServiceError(Exception):
    """``message`` is said as it stands, or, with ``params``, is a template filled with them:
    the setup page then translates the template and fills it in the page's language (and the
    ``words``, the params that are the box's own words rather than data, translated too)."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, params: dict[str, object] | None = None, words: tuple[str, ...] = (),
                 **details: object) -> None:
        self.template, self.params, self.words = message, params or {}, words
        self.message = message % self.params if params else message
        super().__init__(self.message)
        self.details = {**self.params, **details}


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


class TooSlow(ServiceError):
    """The client took too long to send its request."""

    status = 408
    code = "request_timeout"


class Unavailable(ServiceError):
    """The box cannot serve this now; nothing was stored. Retry."""

    status = 503
    code = "unavailable"


class OutcomeUnknown(ServiceError):
    """The box's storage failed while writing: the job may or may not be stored. Only the
    same id, sent again, settles it (the box answers the job it has, or takes it now)."""

    status = 503
    code = "outcome_unknown"


class StorageFull(ServiceError):
    """The card is full: nothing more can be stored until room is made."""

    status = 507
    code = "storage_full"


class NoSession(ServiceError):
    """A tablet must start a selling session first."""

    status = 409
    code = "no_session"


class SessionGone(ServiceError):
    """The session was closed (or force-closed): what the tablet had not synced is lost."""

    status = 410
    code = "session_closed"
