"""OpenAPI description of the webhook's authentication (drf-spectacular extension)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class EntraIdBearerScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.authentication.EntraIdBearerAuthentication"
    name = "EntraIdBearer"

    def get_security_definition(self, auto_schema):  # noqa: ANN001, ANN201
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A Microsoft Entra ID access token issued to the Azure Monitor "
            "action group application for this connection's audience.",
        }
