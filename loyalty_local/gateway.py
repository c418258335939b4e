"""API Gateway (REST, Lambda proxy) as template.yaml describes it, in process.

Routes come from the functions' `Api` events; the authorizer is the function the API's `Auth` names;
error answers of the gateway itself use the template's `GatewayResponses`.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from loyalty_local.runtime import FunctionPool
from loyalty_local.template import Route, Template

GATEWAY_MAX_BODY = 10 * 1024 * 1024  # API Gateway's own limit; the handlers refuse over 64 KiB
MATCHES_KEPT = 4096  # the (method, path) pairs whose route the gateway remembers


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


def build_event(
    route: Route,
    method: str,
    raw_path: str,
    headers: dict[str, str],
    body: bytes | None,
    *,
    stage: str,
    source_ip: str = "127.0.0.1",
    authorizer: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """A REST API Lambda-proxy event, as API Gateway sends it (`request_id`: the gateway's, or a new one)."""
    split = urlsplit(raw_path)
    path = split.path
    match = route.regex.match(path)
    # as API Gateway's REST APIs do: the path and its parameters as the client sent them, percent-encoded
    # (the functions decode them once, loyalty.edge.http.decode_path)
    path_params = (dict(match.groupdict()) if match else None) or None
    multi_query = parse_qs(split.query, keep_blank_values=True) or None
    query = {k: v[-1] for k, v in multi_query.items()} if multi_query else None
    text: str | None = None
    is_b64 = False
    if body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text, is_b64 = base64.b64encode(body).decode(), True
    now = time.time()
    request_id = request_id or str(uuid.uuid4())
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers) or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_params,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": route.path,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": f"/{stage}{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": "localhost",
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent", "")},
            "domainName": "localhost",
            "apiId": "local",
            "authorizer": authorizer,
        },
        "body": text,
        "isBase64Encoded": is_b64,
    }


class Gateway:
    def __init__(self, template: Template, pools: dict[str, FunctionPool]) -> None:
        self.template = template
        self.pools = pools
        self.routes = template.routes()
        self.responses = template.gateway_responses()
        self.stage = template.stage
        self._matched: dict[tuple[str, str], tuple[Route | None, list[str]]] = {}  # (method, path) -> match()
        # API Gateway caches an authorizer's Allow per identity (the Authorization header) for its
        # ReauthorizeEvery seconds: one authorizer call per key every 5 minutes, not one per request
        self._authorized: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}
        self._identity = {
            r.authorizer: (
                template.authorizer_identity_headers(r.authorizer),
                template.authorizer_cache_seconds(r.authorizer),
            )
            for r in self.routes
            if r.authorizer
        }

    def match(self, method: str, path: str) -> tuple[Route | None, list[str]]:
        """The route for (method, path), and the methods the path's resource has. As in API Gateway, the
        resource is chosen first (static segments beat path parameters), then its method: `GET
        /v1/members/lookup` is not the member `lookup` but a method the resource `/v1/members/lookup` lacks.
        Remembered for the paths met last (the routes never change): a replay sends the same few again and again."""
        known = self._matched.get((method, path))
        if known is not None:
            return known
        if len(self._matched) >= MATCHES_KEPT:
            self._matched.clear()
        resource: str | None = None
        allowed: list[str] = []
        found: Route | None = None
        for route in self.routes:  # the most specific first
            if resource is None and route.regex.match(path):
                resource = route.path
            if route.path == resource:
                allowed.append(route.method)
                if found is None and route.method in (method, "ANY"):
                    found = route
        self._matched[(method, path)] = found, allowed
        return found, allowed

    def method_not_allowed(self, method: str, allowed: list[str], request_id: str) -> HttpAnswer:
        """405 `method_not_allowed` in the contract's error shape, with `Allow` (RFC 9110). Deployed, API Gateway
        answers a method a resource lacks with MISSING_AUTHENTICATION_TOKEN (the template's 404 `not_found`),
        which no gateway response can tell from an unknown path: docs/api.md says so."""
        methods = ", ".join(sorted(set(allowed)))
        error = {
            "code": "method_not_allowed",
            "message": f"{method} is not a method of this route; it takes {methods}",
            "request_id": request_id,
        }
        body = json.dumps({"error": error}, separators=(",", ":")).encode()
        return HttpAnswer(405, {"Content-Type": "application/json", "Allow": methods}, body)

    def gateway_error(self, kind: str, status: int, request_id: str) -> HttpAnswer:
        spec = self.responses.get(kind) or self.responses.get("DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX") or {}
        template = (spec.get("ResponseTemplates") or {}).get("application/json")
        body = (
            template.replace("$context.requestId", request_id)
            if template
            else json.dumps({"message": kind.replace("_", " ").lower()})
        )
        status = int(spec.get("StatusCode", status)) if kind in self.responses else status
        return HttpAnswer(status, {"Content-Type": "application/json"}, body.encode())

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes | None, ip: str) -> HttpAnswer:
        path = urlsplit(raw_path).path
        route, allowed = self.match(method, path)
        request_id = str(uuid.uuid4())
        if route is None and allowed:
            return self.method_not_allowed(method, allowed, request_id)
        if route is None:
            # API Gateway answers a path it does not know with 403 MISSING_AUTHENTICATION_TOKEN (the template: 404)
            return self.gateway_error("MISSING_AUTHENTICATION_TOKEN", 404, request_id)
        authorizer_context = None
        if route.authorizer:
            decided = self.authorize(route, method, raw_path, headers, request_id)
            if isinstance(decided, HttpAnswer):
                return decided
            authorizer_context = decided
        event = build_event(
            route,
            method,
            raw_path,
            headers,
            body,
            stage=self.stage,
            source_ip=ip,
            authorizer=authorizer_context,
            request_id=request_id,
        )
        try:
            result = self.pools[route.function].invoke(event)
        except Exception:  # the function crashed: API Gateway answers 502, the template's DEFAULT_5XX
            import traceback

            traceback.print_exc()
            return self.gateway_error("DEFAULT_5XX", 502, event["requestContext"]["requestId"])
        return self._proxy_answer(result, event["requestContext"]["requestId"])

    def authorize(
        self, route: Route, method: str, raw_path: str, headers: dict[str, str], request_id: str
    ) -> dict[str, Any] | HttpAnswer:
        lowered = {k.lower(): v for k, v in headers.items()}
        assert route.authorizer is not None
        names, ttl = self._identity[route.authorizer]
        identity = [lowered.get(h.lower()) for h in names]
        if not all(identity):  # identity source missing: the authorizer is not called
            return self.gateway_error("UNAUTHORIZED", 401, request_id)
        cache_key = (route.authorizer, *(str(v) for v in identity))
        cached = self._authorized.get(cache_key)
        if cached is not None and time.monotonic() - cached[0] < ttl:
            return cached[1]
        decided = self._call_authorizer(route, method, raw_path, headers, request_id)
        if ttl > 0 and not isinstance(decided, HttpAnswer):  # only an Allow is kept
            self._authorized[cache_key] = (time.monotonic(), decided)
        return decided

    def _call_authorizer(
        self, route: Route, method: str, raw_path: str, headers: dict[str, str], request_id: str
    ) -> dict[str, Any] | HttpAnswer:
        assert route.authorizer is not None
        function = self.template.authorizer_function(route.authorizer)
        split = urlsplit(raw_path)
        event = {
            "type": "REQUEST",
            "methodArn": f"arn:aws:execute-api:us-east-1:123456789012:local/{self.stage}/{method}{split.path}",
            "resource": route.path,
            "path": split.path,
            "httpMethod": method,
            "headers": dict(headers),
            "queryStringParameters": {k: v[-1] for k, v in parse_qs(split.query).items()},
            "pathParameters": route.regex.match(split.path).groupdict(),  # type: ignore[union-attr]
            "requestContext": {"requestId": request_id, "stage": self.stage},
        }
        try:
            policy = self.pools[function].invoke(event)
        except Exception as exc:
            if str(exc) == "Unauthorized":
                return self.gateway_error("UNAUTHORIZED", 401, request_id)
            return self.gateway_error("DEFAULT_5XX", 500, request_id)
        statements = (policy.get("policyDocument") or {}).get("Statement") or []
        if not any(s.get("Effect") == "Allow" for s in statements) or any(
            s.get("Effect") == "Deny" for s in statements
        ):
            return self.gateway_error("ACCESS_DENIED", 403, request_id)
        return {"principalId": policy.get("principalId"), **(policy.get("context") or {})}

    def _proxy_answer(self, result: Any, request_id: str) -> HttpAnswer:
        if not isinstance(result, dict) or "statusCode" not in result:
            return self.gateway_error("DEFAULT_5XX", 502, request_id)
        headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        for k, values in (result.get("multiValueHeaders") or {}).items():
            headers[str(k)] = ", ".join(str(v) for v in values)
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        return HttpAnswer(int(result["statusCode"]), headers, raw)
