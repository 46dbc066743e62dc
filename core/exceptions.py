"""Domain errors raised by services and mapped to HTTP answers in one place (core.api)."""

from collections.abc import Sequence


class ApplicationError(Exception):
    """A rule of the domain refused the operation; the message is safe to show a user.

    `fields` names the input fields the refusal is about (the API lists them under
    "errors", as it does for validation errors).
    """

    code = "invalid"
    status_code = 400

    def __init__(
        self, message: str, *, code: str | None = None, fields: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = tuple(fields)
        if code is not None:
            self.code = code


class TransitionNotAllowed(ApplicationError):
    """The incident's state does not allow the requested change."""

    code = "transition_not_allowed"
    status_code = 409


class StateChanged(TransitionNotAllowed):
    """The incident changed since the caller read it; acting on that copy would lose it."""

    code = "state_changed"
