"""The court token in the OpenAPI schema: `Authorization: Token <token>`."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class CourtTokenScheme(OpenApiAuthenticationExtension):
    target_class = "documents.auth.CourtTokenAuthentication"
    name = "courtToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A court system's token, as `Token <token>`.",
        }
