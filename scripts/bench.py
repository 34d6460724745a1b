"""`make bench`: the cost of a decision as a ratio to one RSA signature check.

Everything in-process is measured in one process, in alternating rounds, so that a noisy machine
slows every case alike; the ratios are what to compare, not the absolute times. Cold start and
memory are measured in fresh processes against a minimal PyJWT + urllib3 script doing the same
job. Nothing here asserts: it prints a table (and the targets of issue 7 beside it).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.algorithms import RSAAlgorithm

ROOT = Path(__file__).resolve().parents[1]
ISSUER = "https://bench-issuer.example"
AUDIENCE = "api://bench"
KID = "bench-key"
METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/GET/orders/42"


class KeyServer:
    """The key set on 127.0.0.1, counting requests, as an identity provider would serve it."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        body = json.dumps(jwks).encode()
        self.requests = 0
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                server_self.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/keys"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def mint(private: rsa.RSAPrivateKey, n: int, **overrides: Any) -> list[str]:
    now = int(time.time())
    tokens = []
    for i in range(n):
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": f"user-{i}",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "tid": "11111111-1111-1111-1111-111111111111",
            "scp": "orders.read",
            "jti": f"{i}-{now}",
        }
        claims.update(overrides)
        tokens.append(jwt.encode(claims, private, algorithm="RS256", headers={"kid": KID}))
    return tokens


def tamper(token: str) -> str:
    head, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[10] ^= 0xFF
    return f"{head}.{payload}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"


def run_rounds(cases: dict[str, Callable[[int], None]], rounds: int, batch: int) -> dict[str, float]:
    """Mean seconds per call for each case, cases interleaved round by round."""
    totals = dict.fromkeys(cases, 0.0)
    for case in cases.values():  # warm-up outside the measurement
        case(0)
    for r in range(rounds):
        for name, case in cases.items():
            start = time.perf_counter()
            for i in range(batch):
                case(r * batch + i)
            totals[name] += time.perf_counter() - start
    return {name: total / (rounds * batch) for name, total in totals.items()}


def in_process(rounds: int, batch: int) -> tuple[dict[str, float], int]:
    private = rsa.generate_private_key(65537, 2048)
    jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True) | {"kid": KID, "use": "sig", "alg": "RS256"}
    server = KeyServer({"keys": [jwk]})
    peer_server = KeyServer({"keys": [jwk]})  # the peers' fetches must not count as the function's
    total = rounds * batch + 1
    fresh = mint(private, total)
    fresh_for_peers = mint(private, total, sub="peer")
    bad_signature = [tamper(t) for t in mint(private, total, sub="forged")]
    expired = mint(
        private, total, exp=int(time.time()) - 7200, iat=int(time.time()) - 10800, nbf=int(time.time()) - 10800
    )
    repeated = fresh[0]

    os.environ.update(
        {
            "ISSUER": ISSUER,
            "AUDIENCE": AUDIENCE,
            "JWKS_URI": server.url.replace("http://", "http://"),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_SERVICE_NAME": "bench",
        }
    )
    # The function as deployed: logging and metrics on, written to a sink that costs what stdout costs.
    sink = open(os.devnull, "w")  # noqa: SIM115 - lives for the whole benchmark
    real_stdout, sys.stdout = sys.stdout, sink
    try:
        from jwt_authorizer import app
    finally:
        sys.stdout = real_stdout

    class Context:
        function_name = "bench"
        memory_limit_in_mb = 256
        invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"
        aws_request_id = "bench"

    context = Context()
    public = private.public_key()
    head, payload, signature = fresh[0].split(".")
    signing_input = f"{head}.{payload}".encode()
    signature_bytes = base64.urlsafe_b64decode(signature + "==")
    fetches_after_warmup: list[int] = []

    def handler(token: str) -> None:
        sys.stdout = sink
        try:
            app.lambda_handler(
                {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": METHOD_ARN}, context
            )
        except Exception as exc:
            if str(exc) != "Unauthorized":
                raise
        finally:
            sys.stdout = real_stdout

    pyjwk_client = jwt.PyJWKClient(peer_server.url, cache_keys=True, lifespan=3600)

    def pyjwt_peer(i: int) -> None:
        token = fresh_for_peers[i]
        key = pyjwk_client.get_signing_key_from_jwt(token)
        jwt.decode(token, key.key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)

    cases: dict[str, Callable[[int], None]] = {
        "floor: RSAPublicKey.verify": lambda i: public.verify(
            signature_bytes, signing_input, padding.PKCS1v15(), hashes.SHA256()
        ),
        "handler, fresh valid token": lambda i: handler(fresh[i + 1]),
        "handler, same token repeated": lambda i: handler(repeated),
        "handler, bad signature": lambda i: handler(bad_signature[i]),
        "handler, expired token": lambda i: handler(expired[i]),
        "peer: PyJWKClient + jwt.decode": pyjwt_peer,
    }
    try:
        from aws_lambda_powertools.utilities.auth_alpha import JWTVerifier

        alpha = JWTVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"], jwks={"keys": [jwk]})
        cases["peer: Powertools auth_alpha JWTVerifier"] = lambda i: alpha.verify(fresh_for_peers[i])
    except ImportError:
        pass
    handler(repeated)
    fetches_after_warmup.append(server.requests)
    results = run_rounds(cases, rounds, batch)
    warm_fetches = server.requests - fetches_after_warmup[0]
    return results, warm_fetches


COLD_SCRIPT = """
import json, os, sys, time
t0 = time.perf_counter()
{body}
elapsed = time.perf_counter() - t0
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec.
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({{"seconds": elapsed, "maxrss_kb": peak}}))
"""

FUNCTION_BODY = """
sys.stdout = open(os.devnull, "w")
import jwt_authorizer.app as app
class C:
    function_name = "bench"; memory_limit_in_mb = 256; aws_request_id = "cold"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"
response = app.lambda_handler({"type": "TOKEN", "authorizationToken": "Bearer " + os.environ["BENCH_TOKEN"],
                               "methodArn": os.environ["BENCH_ARN"]}, C())
assert response["policyDocument"]["Statement"][0]["Effect"] == "Allow"
sys.stdout = sys.__stdout__
"""

MINIMAL_BODY = """
import jwt, urllib3
http = urllib3.PoolManager()
keys = json.loads(http.request("GET", os.environ["JWKS_URI"]).data)
key = jwt.PyJWK(keys["keys"][0])
claims = jwt.decode(os.environ["BENCH_TOKEN"], key.key, algorithms=["RS256"], audience=os.environ["AUDIENCE"],
                    issuer=os.environ["ISSUER"])
assert claims["sub"]
"""


def cold_starts(runs: int) -> dict[str, dict[str, float]]:
    # Both sides start with bytecode, as a deployed package built with the runtime's Python does:
    # the dependencies got theirs from pip, the function gets its own here.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "jwt_authorizer")], check=True)
    private = rsa.generate_private_key(65537, 2048)
    jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True) | {"kid": KID, "use": "sig", "alg": "RS256"}
    server = KeyServer({"keys": [jwk]})
    token = mint(private, 1)[0]
    env = {
        **os.environ,
        "ISSUER": ISSUER,
        "AUDIENCE": AUDIENCE,
        "JWKS_URI": server.url,
        "BENCH_TOKEN": token,
        "BENCH_ARN": METHOD_ARN,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    scripts = {"function": COLD_SCRIPT.format(body=FUNCTION_BODY), "minimal": COLD_SCRIPT.format(body=MINIMAL_BODY)}
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in scripts}
    for _ in range(runs):
        for name, script in scripts.items():
            out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
            samples[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        name: {
            "seconds": statistics.median(s["seconds"] for s in runs_),
            "maxrss_kb": statistics.median(s["maxrss_kb"] for s in runs_),
        }
        for name, runs_ in samples.items()
    }


def package_size() -> int | None:
    """Bytes of the deployment artifact built by the Makefile's SAM target (None if it cannot build)."""
    target = Path(tempfile.mkdtemp(prefix="jwt-authorizer-artifact-"))
    try:
        subprocess.run(
            ["make", "-s", "build-AuthorizerFunction", f"ARTIFACTS_DIR={target}", f"PYTHON={sys.executable}"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=600,
        )
        return sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    except (subprocess.SubprocessError, OSError):
        return None
    finally:
        shutil.rmtree(target, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--cold-runs", type=int, default=7)
    parser.add_argument("--skip-package", action="store_true")
    args = parser.parse_args()

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
    results, warm_fetches = in_process(args.rounds, args.batch)
    floor = results["floor: RSAPublicKey.verify"]
    targets = {"handler, fresh valid token": "<= 2.0", "handler, same token repeated": "<= 0.5"}
    print(f"\n{'case':44} {'mean/call':>11} {'x floor':>8}  target")
    for name, seconds in results.items():
        print(f"{name:44} {seconds * 1e6:9.1f} us {seconds / floor:8.2f}  {targets.get(name, '')}")
    print(f"key-set requests on the warm path after the first fetch: {warm_fetches} (target 0)")

    cold = cold_starts(args.cold_runs)
    ratio = cold["function"]["seconds"] / cold["minimal"]["seconds"]
    print(f"\ncold start (import + first decision, key set on loopback), median of {args.cold_runs}:")
    print(
        f"  function {cold['function']['seconds'] * 1e3:7.1f} ms, minimal PyJWT+urllib3 script "
        f"{cold['minimal']['seconds'] * 1e3:7.1f} ms, ratio {ratio:.2f} (target <= 1.15)"
    )
    print(
        f"peak memory: function {cold['function']['maxrss_kb'] / 1024:.1f} MiB, minimal script "
        f"{cold['minimal']['maxrss_kb'] / 1024:.1f} MiB, ratio "
        f"{cold['function']['maxrss_kb'] / cold['minimal']['maxrss_kb']:.2f}"
    )
    if not args.skip_package:
        size = package_size()
        text = f"{size / 1024 / 1024:.1f} MiB" if size is not None else "could not build (no network?)"
        print(f"deployment package (arm64, python3.13 wheels): {text}")


if __name__ == "__main__":
    main()
