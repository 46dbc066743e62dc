"""Non-API views of the integration."""

from django.conf import settings
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from . import devtokens


@require_GET
def dev_jwks(request: HttpRequest) -> JsonResponse:
    """Serve the offline demo's public key set, to this machine only and only in DEBUG.

    The demo connection's `jwks_uri` points here, so tokens signed by `send_test_alert`
    are validated by the same code as Entra ID's.
    """
    if not settings.DEBUG or request.META.get("REMOTE_ADDR") not in ("127.0.0.1", "::1"):
        raise Http404
    key = devtokens.load_or_create_key(settings.DEV_SIGNING_KEY_PATH)
    return JsonResponse(devtokens.jwks_document(key))
