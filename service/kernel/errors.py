"""Errors a user can cause: one family, mapped to problem+json or an error page in one handler
(service.error_responses)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class FangxinError(Exception):
    """Base of every error whose message is meant for the person who caused it."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []

    @property
    def headers(self) -> dict[str, str]:
        """Response headers the error's answer carries (a 503's Retry-After)."""
        return {}


class InvalidInput(FangxinError):
    status = 422
    title = "Invalid input"


class NotFound(FangxinError):
    status = 404
    title = "Not found"


class Conflict(FangxinError):
    status = 409
    title = "Conflict"


class LoginFailed(FangxinError):
    status = 401
    title = "Login failed"


class SessionsUnavailable(FangxinError):
    """The session store (Redis) does not answer: nobody can be signed in or recognised as
    signed in, while public pages go on working (service.kernel.stores)."""

    status = 503
    title = "Sign-in unavailable"
    # Seconds a client is told to wait: about the stores' breaker cooldown and a restart.
    retry_after = 30

    def __init__(self) -> None:
        super().__init__(
            "Signing in is temporarily unavailable (the session store does not answer). "
            "Public pages and survey forms still work; please try again in a few minutes."
        )


def field_error_from(exc: Exception, default_field: str = "body") -> FieldError:
    """A msgspec ValidationError ("Expected `int`, got `str` - at `$.kind`") as a FieldError."""
    # Imported here: the validation rules are built on this module's errors.
    from service.kernel.validation import plain_problem

    message, _, where = str(exc).partition(" - at ")
    return FieldError(where.strip("`").removeprefix("$.") or default_field, plain_problem(message))
