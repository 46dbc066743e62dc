"""Domain errors raised by services and mapped to HTTP answers in one place (itsm.api)."""


class ApplicationError(Exception):
    """A rule of the domain refused the operation; the message is safe to show a user."""

    code = "invalid"
    status_code = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class TransitionNotAllowed(ApplicationError):
    """The incident's state does not allow the requested change."""

    code = "transition_not_allowed"
    status_code = 409
