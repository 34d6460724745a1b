"""Mint development tokens and write the sample API Gateway events in ``events/``.

Run by ``make events``. The tokens are signed with the DEVELOPMENT-ONLY key in
``events/dev-issuer/private-key.pem`` (see the README there): anyone can read that key, so a
deployment must never trust its issuer.

Everything written is deterministic (RS256 signatures are too) but the valid tokens' ``iat`` and
``nbf``: they are the time of the last minting, kept while the committed valid token still verifies
with the committed key, so a second run leaves no diff. A new key, or tokens that no longer verify,
mint at the current time; ``--now`` chooses the time.

    .venv/bin/python scripts/make_events.py            # re-mint with the committed key
    .venv/bin/python scripts/make_events.py --new-key  # replace the development key pair
    .venv/bin/python scripts/make_events.py --out /tmp/events   # write elsewhere (the key stays)
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from jwt_authorizer.devtoken import DevIssuer
from jwt_authorizer.devtoken import mint as mint_token

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
DEV_ISSUER_DIR = EVENTS / "dev-issuer"
PRIVATE_KEY_FILE = DEV_ISSUER_DIR / "private-key.pem"
JWKS_FILE = DEV_ISSUER_DIR / "jwks.json"

KID = "dev-2026"
ISSUER = "https://dev-issuer.jwt-authorizer.invalid"
AUDIENCE = "api://jwt-authorizer-dev"
GRAPH_AUDIENCE = "https://graph.microsoft.com"
OTHER_AUDIENCE = "api://someone-else"

EXPIRES_2036 = 2082758400  # 2036-01-01T00:00:00Z
EXPIRED_2020 = 1577836800  # 2020-01-01T00:00:00Z
ISSUED_2019 = EXPIRED_2020 - 3600

REGION = "eu-west-1"
ACCOUNT = "123456789012"
API_ID = "abcdef1234"
REST_STAGE = "prod"
HTTP_STAGE = "$default"
DOMAIN = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
SOURCE_IP = "203.0.113.10"
USER_AGENT = "curl/8.5.0"
REQUEST_TIME = "01/Jan/2026:12:00:00 +0000"
REQUEST_TIME_EPOCH = 1767268800000


# ----- the development issuer ---------------------------------------------------------------------


def load_or_create_key(new_key: bool) -> rsa.RSAPrivateKey:
    if new_key or not PRIVATE_KEY_FILE.is_file():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        DEV_ISSUER_DIR.mkdir(parents=True, exist_ok=True)
        PRIVATE_KEY_FILE.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        print(f"wrote a NEW development key pair to {PRIVATE_KEY_FILE.relative_to(ROOT)}")
        return key
    loaded = serialization.load_pem_private_key(PRIVATE_KEY_FILE.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise SystemExit(f"{PRIVATE_KEY_FILE} is not an RSA private key")
    return loaded


def minted_at(key: rsa.RSAPrivateKey) -> int | None:
    """``iat`` of the committed valid token while it verifies with ``key``, else None."""
    try:
        event = json.loads((EVENTS / "rest-token-allow.json").read_text(encoding="utf-8"))
        token = event["authorizationToken"].removeprefix("Bearer ")
        claims = jwt.decode(token, key.public_key(), algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)
    except (OSError, ValueError, KeyError, AttributeError, jwt.PyJWTError):
        return None
    issued = claims.get("iat")
    return issued if isinstance(issued, int) and issued <= time.time() else None


def public_jwks(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID, "n": jwk["n"], "e": jwk["e"]}]}


def mint(issuer: DevIssuer, now: int, **overrides: Any) -> str:
    """A development token through the token doctor's ``dev-token`` minting (one minting code path)."""
    headers = overrides.pop("headers", {})
    claims: dict[str, Any] = {
        "tid": "00000000-0000-0000-0000-000000000001",
        "scp": "orders.read orders.write",
        "roles": ["Orders.Admin"],
        "iat": now,
        "nbf": now,
        "exp": EXPIRES_2036,
        **overrides,
    }
    return mint_token(issuer, now=now, nonce=headers.get("nonce"), claims=claims)


# ----- event shapes (see ../shared/platform-facts.md) ---------------------------------------------


def arn(stage: str, method: str, path: str) -> str:
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{stage}/{method}{path}"


def rest_token_event(authorization: str) -> dict[str, Any]:
    return {
        "type": "TOKEN",
        "authorizationToken": authorization,
        "methodArn": arn(REST_STAGE, "GET", "/orders/42"),
    }


def rest_request_event(authorization: str | None) -> dict[str, Any]:
    headers = {
        "Accept": "application/json",
        "Host": DOMAIN,
        "User-Agent": USER_AGENT,
        "X-Amzn-Trace-Id": "Root=1-67752200-0123456789abcdef01234567",
        "X-Forwarded-For": SOURCE_IP,
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    if authorization is not None:
        headers["Authorization"] = authorization
    return {
        "type": "REQUEST",
        "methodArn": arn(REST_STAGE, "GET", "/orders/42"),
        "resource": "/orders/{id}",
        "path": "/orders/42",
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {"expand": "items"},
        "multiValueQueryStringParameters": {"expand": ["items"]},
        "pathParameters": {"id": "42"},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "a1b2c3",
            "resourcePath": "/orders/{id}",
            "httpMethod": "GET",
            "extendedRequestId": "Ab1CdEfGhIjKlMn=",
            "requestTime": REQUEST_TIME,
            "path": f"/{REST_STAGE}/orders/42",
            "accountId": ACCOUNT,
            "protocol": "HTTP/1.1",
            "stage": REST_STAGE,
            "domainPrefix": API_ID,
            "requestTimeEpoch": REQUEST_TIME_EPOCH,
            "requestId": "11111111-2222-4333-8444-555555555555",
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": SOURCE_IP,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": USER_AGENT,
                "user": None,
            },
            "domainName": DOMAIN,
            "apiId": API_ID,
        },
    }


def http_api_v1_event(authorization: str) -> dict[str, Any]:
    """Payload 1.0: the REQUEST shape plus version, identitySource and authorizationToken.

    With several identity sources, identitySource and authorizationToken are the values joined
    by commas; this API's only identity source is the Authorization header.
    """
    event = rest_request_event(authorization)
    event["methodArn"] = arn(HTTP_STAGE, "GET", "/orders/42")
    context = event["requestContext"]
    context["stage"] = HTTP_STAGE
    context["path"] = "/orders/42"
    context.pop("resourceId")
    context.pop("domainPrefix")
    context["resourcePath"] = "/orders/{id}"
    return {
        "version": "1.0",
        "type": "REQUEST",
        "methodArn": event["methodArn"],
        "identitySource": authorization,
        "authorizationToken": authorization,
        "resource": "/orders/{id}",
        "path": "/orders/42",
        "httpMethod": "GET",
        "headers": event["headers"],
        "multiValueHeaders": event["multiValueHeaders"],
        "queryStringParameters": event["queryStringParameters"],
        "multiValueQueryStringParameters": event["multiValueQueryStringParameters"],
        "pathParameters": event["pathParameters"],
        "stageVariables": None,
        "requestContext": context,
    }


def http_api_v2_event(authorization: str) -> dict[str, Any]:
    """Payload 2.0 with identity sources ``$request.header.Authorization, $context.routeKey``."""
    route_key = "GET /orders/{id}"
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": arn(HTTP_STAGE, "GET", "/orders/42"),
        "identitySource": [authorization, route_key],
        "routeKey": route_key,
        "rawPath": "/orders/42",
        "rawQueryString": "expand=items",
        "headers": {
            "accept": "application/json",
            "authorization": authorization,
            "content-length": "0",
            "host": DOMAIN,
            "user-agent": USER_AGENT,
            "x-amzn-trace-id": "Root=1-67752200-0123456789abcdef01234567",
            "x-forwarded-for": SOURCE_IP,
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "queryStringParameters": {"expand": "items"},
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "domainName": DOMAIN,
            "domainPrefix": API_ID,
            "http": {
                "method": "GET",
                "path": "/orders/42",
                "protocol": "HTTP/1.1",
                "sourceIp": SOURCE_IP,
                "userAgent": USER_AGENT,
            },
            "requestId": "Ab1CdEfGhIjKlMn=",
            "routeKey": route_key,
            "stage": HTTP_STAGE,
            "time": REQUEST_TIME,
            "timeEpoch": REQUEST_TIME_EPOCH,
        },
        "pathParameters": {"id": "42"},
    }


def websocket_connect_event(token: str) -> dict[str, Any]:
    """``$connect`` from a browser: no Authorization header, the token in the query string."""
    headers = {
        "Host": DOMAIN,
        "Origin": "https://app.example.com",
        "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "X-Amzn-Trace-Id": "Root=1-67752200-0123456789abcdef01234567",
        "X-Forwarded-For": SOURCE_IP,
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{REST_STAGE}/$connect",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {"access_token": token},
        "multiValueQueryStringParameters": {"access_token": [token]},
        "stageVariables": {},
        "requestContext": {
            "routeKey": "$connect",
            "eventType": "CONNECT",
            "extendedRequestId": "Ab1CdEfGhIjKlMn=",
            "requestTime": REQUEST_TIME,
            "messageDirection": "IN",
            "stage": REST_STAGE,
            "connectedAt": REQUEST_TIME_EPOCH,
            "requestTimeEpoch": REQUEST_TIME_EPOCH,
            "identity": {"userAgent": headers["User-Agent"], "sourceIp": SOURCE_IP},
            "requestId": "Ab1CdEfGhIjKlMn=",
            "domainName": DOMAIN,
            "connectionId": "Ab1CdEfGhIjKlMn=",
            "apiId": API_ID,
        },
    }


# ----- writing ------------------------------------------------------------------------------------


def write_json(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-key", action="store_true", help="replace the development key pair")
    parser.add_argument("--now", type=int, help="iat/nbf of the valid tokens (default: kept, else now)")
    parser.add_argument("--out", type=Path, default=EVENTS, help="folder to write (default: events/)")
    args = parser.parse_args()

    key = load_or_create_key(args.new_key)
    now = args.now if args.now is not None else (None if args.new_key else minted_at(key))
    now = int(time.time()) if now is None else now
    out: Path = args.out.resolve()
    (out / JWKS_FILE.parent.name).mkdir(parents=True, exist_ok=True)
    jwks = public_jwks(key)
    write_json(out / JWKS_FILE.relative_to(EVENTS), jwks)

    issuer = DevIssuer(key, KID, ISSUER, AUDIENCE)
    valid = mint(issuer, now)
    expired = mint(issuer, ISSUED_2019, exp=EXPIRED_2020)
    wrong_audience = mint(issuer, now, aud=OTHER_AUDIENCE)
    graph = mint(issuer, now, aud=GRAPH_AUDIENCE, headers={"nonce": "dev-graph-nonce"})

    missing = rest_request_event(None)
    events: dict[str, Any] = {
        "rest-token-allow.json": rest_token_event(f"Bearer {valid}"),
        "rest-token-expired.json": rest_token_event(f"Bearer {expired}"),
        "rest-token-wrong-audience.json": rest_token_event(f"Bearer {wrong_audience}"),
        "rest-token-graph-token.json": rest_token_event(f"Bearer {graph}"),
        "rest-token-no-bearer.json": rest_token_event(valid),
        "rest-request-allow.json": rest_request_event(f"Bearer {valid}"),
        "rest-request-missing-token.json": missing,
        "http-api-v1-allow.json": http_api_v1_event(f"Bearer {valid}"),
        "http-api-v2-allow.json": http_api_v2_event(f"Bearer {valid}"),
        "http-api-v2-expired.json": http_api_v2_event(f"Bearer {expired}"),
        "websocket-connect-allow.json": websocket_connect_event(valid),
    }
    for name, event in events.items():
        write_json(out / name, copy.deepcopy(event))

    write_json(
        out / "env.json",
        {
            "AuthorizerFunction": {
                "ISSUER": ISSUER,
                "AUDIENCE": AUDIENCE,
                "JWKS": json.dumps(jwks, separators=(",", ":")),
                "JWKS_PREFETCH": "false",
                "POWERTOOLS_METRICS_NAMESPACE": "JwtAuthorizerDev",
                "POWERTOOLS_SERVICE_NAME": "jwt-authorizer-dev",
            }
        },
    )
    where = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"wrote {len(events)} events, env.json and dev-issuer/jwks.json in {where}/ (tokens issued at {now})")


if __name__ == "__main__":
    main()
