"""OpenAPI generation (drf-spectacular): the error answers every endpoint can give.

Each operation lists the errors it can answer (`{"detail", "code"}`, see core.api), so a
generated client knows their shape and a schema checker can hold the server to them.
An operation's own `@extend_schema(responses=...)` wins over these defaults.
"""

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.utils import Direction, OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """Every error answer of the API."""

    detail = serializers.CharField(help_text="What is wrong, in words.")
    code = serializers.CharField(help_text="A short, stable code, e.g. `not_found`.")

    class Meta:
        ref_name = "Error"


class ValidationErrorSerializer(ErrorSerializer):
    """A 400 answer; when fields were wrong, `errors` maps each to its messages."""

    # SerializerMetaclass takes declared fields out of the class body, so at run time this
    # does not shadow Serializer.errors; mypy cannot see the metaclass do it.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.JSONField(),
        required=False,
        help_text='Per field, a list of messages, e.g. `{"title": ["This field is required."]}`.',
    )

    class Meta:
        ref_name = "ValidationError"


def error(description: str, serializer: type[serializers.Serializer] = ErrorSerializer) -> Any:
    """An error response for `@extend_schema(responses=...)`."""
    return OpenApiResponse(serializer, description=description)


CONFLICT = error("The current state does not allow this (e.g. a transition the state refuses).")


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, plus the error answers each operation can give."""

    def _standard_errors(self) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        has_body = self.method in ("POST", "PUT", "PATCH") and bool(self.get_request_serializer())
        is_list = self.method == "GET" and self._is_list_view()
        if has_body or is_list:
            errors["400"] = error(
                "The request is not valid (body, or query parameters).",
                ValidationErrorSerializer,
            )
        if self.get_auth():
            errors["401"] = error("Not signed in: no token or session, or a bad token.")
            errors["403"] = error("Signed in, but without the permission this needs.")
        if "{" in self.path or is_list:
            errors["404"] = error("No such object (or, for a list, no such page).")
        if has_body:
            errors["415"] = error("The body is not JSON (`Content-Type: application/json`).")
        if self.view.get_throttles():
            errors["429"] = error("Too many requests; retry after `Retry-After` seconds.")
        return errors

    def _get_response_bodies(self, direction: Direction = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code, response in self._standard_errors().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, None, direction)
        return responses
