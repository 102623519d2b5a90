"""OpenAPI schema post-processing: the error answers every endpoint can give, stated in the schema.

drf-spectacular documents the success of each operation; Ferry's API also answers 401 (not logged
in), 403 (no role for this), 404 (no such object that you can see), 400 (bad input, naming the
field) and, to an operation with a body, 415 (a body of a media type it does not read). Declaring
them lets a client, and the schema fuzzing in CI, hold the API to its schema.
"""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "description": (
        'Either {"detail": "why"} or, for bad input, each field named with its reasons: '
        '{"field": ["reason", ...]}.'
    ),
    "additionalProperties": True,
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
REASONS = {
    "400": "Bad input: the answer names each field and what is wrong with it; nothing was changed.",
    "401": "Not logged in (send a session cookie or `Authorization: Token …`).",
    "403": "Logged in, but your role does not allow this.",
    "404": "No such object, or not one you can see.",
    "409": "Still in use: the answer names what uses it; nothing was deleted.",
    "415": "The body's Content-Type is not one this operation reads; nothing was changed.",
}
MUTATING = {"post", "put", "patch", "delete"}
# Operations that answer 404 for an object named in their body rather than their path.
NAMED_IN_BODY = {("post", "/api/jobs/")}


def declare_error_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """Add 400/401/403/404, 409 to deletions and 415 to operations that read a body, to every
    operation that can answer them, unless already declared."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            parameters = operation.get("parameters", [])
            codes = ["401", "403"]
            if any(p.get("in") == "path" for p in parameters) or (method, path) in NAMED_IN_BODY:
                codes.append("404")
            if (
                method in MUTATING
                or "requestBody" in operation
                or any(p.get("in") == "query" for p in parameters)
            ):
                codes.append("400")
            if method == "delete":
                codes.append("409")
            if "requestBody" in operation:
                codes.append("415")
            for code in codes:
                operation["responses"].setdefault(
                    code,
                    {"description": REASONS[code], "content": {"application/json": {"schema": ERROR_REF}}},
                )
    return result
