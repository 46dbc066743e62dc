"""OpenAPI descriptions drf-spectacular cannot infer: the webhook's authentication, GUIDs."""

from typing import Any, cast

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes


class EntraIdBearerScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.authentication.EntraIdBearerAuthentication"
    name = "EntraIdBearer"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A Microsoft Entra ID access token issued to the Azure Monitor "
            "action group application for this connection's audience.",
        }


class GuidFieldExtension(OpenApiSerializerFieldExtension):
    """`validators.GuidField` (a tenant, app or subscription ID) is a UUID string."""

    target_class = "integrations.validators.GuidField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        # None only for a type drf-spectacular does not know; UUID it knows.
        return cast("dict[str, Any]", build_basic_type(OpenApiTypes.UUID))
