"""/healthz and /readyz, answered before sessions, sign-in and host checks.

Load balancers probe each web process by its own address, with a Host header that is not in
ALLOWED_HOSTS, over plain HTTP, without cookies; answering here keeps the probes off every part
of the stack they should not depend on. They are not staff screens, so the organisations' IP
allow-lists (keiyaku.accounts.middleware) do not apply: a probe belongs to no organisation.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from keiyaku.operations.health import readiness

LIVE_PATH = "/healthz"
READY_PATH = "/readyz"


class HealthMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == LIVE_PATH:
            response: HttpResponse = JsonResponse({"status": "ok"})
        elif request.path == READY_PATH:
            body = readiness()
            response = JsonResponse(body, status=503 if body["status"] == "fail" else 200)
        else:
            return self.get_response(request)
        response["Cache-Control"] = "no-store"
        return response
