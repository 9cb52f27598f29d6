"""Maestro's contract for schemathesis (loaded with SCHEMATHESIS_HOOKS).

Schemathesis's built-in `not_a_server_error` counts every error a resolver returns as a
server error, including the NOT_FOUND, FORBIDDEN and UNAUTHENTICATED answers Maestro's API
contract prescribes (a project you cannot see answers NOT_FOUND). This check fails on what
is a server error here: a 5xx status, or an error whose `extensions.code` is
INTERNAL_SERVER_ERROR, missing, or not one of the contract's codes.
"""

import schemathesis

CODES = {
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "CONFLICT",
    "RATE_LIMITED",
    "SERVICE_UNAVAILABLE",
}


@schemathesis.check
def maestro_no_server_error(ctx, response, case):
    """No 5xx, and every GraphQL error carries one of the contract's client-facing codes."""
    if response.status_code >= 500:
        raise AssertionError(f"server error: HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise AssertionError("the answer is not JSON")
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code not in CODES:
            raise AssertionError(f"error with code {code!r}: {error.get('message')}")
