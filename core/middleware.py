"""Answer the load balancer's probes before anything looks at the `Host` header."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from core import metrics, views


class ProbeMiddleware:
    """Serve GET/HEAD `/healthz` and `/readyz` whatever the `Host` header, over plain HTTP.

    Load balancers probe each backend by its address (`Host: 10.0.0.5:8000`), which is not
    in ALLOWED_HOSTS: later middleware would call `request.get_host()`, log DisallowedHost
    as an error and answer 400. The probes return no data and set no cookie, so the host
    check protects nothing here. Sits before SecurityMiddleware (no HTTPS redirect either).
    `/metrics` too: Prometheus scrapes each backend by its address, and the view serves
    only allowed addresses or the token holder (core.metrics).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.probes = {
            "/healthz": views.healthz,
            "/readyz": views.readyz,
            "/metrics": metrics.metrics_view,
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = self.probes.get(request.path_info)
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)
