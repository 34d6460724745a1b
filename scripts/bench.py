"""`make bench`: what a decision costs, as a ratio to one RSA-2048 signature check, in one table.

Why it is built this way (the machines are shared and noisy):

* CPU time of this thread (``time.thread_time``), not wall time: other processes do not count.
* Cases alternate within each round, and each round yields one ratio per case (case time over the
  floor's time in that same round); the table shows the median of those ratios. A slow second on
  the machine slows the floor and the case alike.
* Each configuration runs in its own child process, as a Lambda container holds one configuration.
* A second, noise-free figure: instructions per call counted by ``valgrind --tool=callgrind``, cut
  into phases at calls of ``os.getppid()`` (``--dump-before=os_getppid``).
* Cold starts run the built package folder (bytecode included) with the runtime's Python and count
  the child's user+sys CPU (``getrusage(RUSAGE_CHILDREN)``) against a minimal PyJWT + urllib3
  script doing the same job, in alternating pairs.

Nothing here asserts: it prints the figures and the targets beside them.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ISSUER = "https://bench-issuer.example"
AUDIENCE = "api://bench"
KID = "bench-key"
TENANT = "11111111-1111-1111-1111-111111111111"
ARN_PREFIX = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234"
METHOD_ARN = f"{ARN_PREFIX}/prod/GET/orders/42"
ROUTE_ARN = f"{ARN_PREFIX}/$default/GET/orders/42"
MARKER = "os_getppid"  # the C function callgrind dumps before: os.getppid() separates phases

# ----- shared material -------------------------------------------------------------------------------


class KeyServer:
    """The key set (and any other document) on 127.0.0.1, counting requests; ETags and 304 as an
    identity provider or a CDN serves them; optionally answering after a delay."""

    def __init__(self, jwks: dict[str, Any], delay: float = 0.0, extra: dict[str, bytes] | None = None) -> None:
        documents = {"/keys": json.dumps(jwks).encode(), **(extra or {})}
        self.requests = 0
        self.conditional_hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                body = documents.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                if self.path == "/keys":
                    outer.requests += 1
                if delay:
                    time.sleep(delay)
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    outer.conditional_hits += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.base}/keys"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Material:
    """Keys and tokens minted once by the parent and handed to every child (signing is slow)."""

    jwk: dict[str, Any]
    tokens: dict[str, list[str]]

    @classmethod
    def mint(cls, count: int) -> Material:
        import jwt
        from cryptography.hazmat.primitives.asymmetric import rsa
        from jwt.algorithms import RSAAlgorithm

        private = rsa.generate_private_key(65537, 2048)
        stranger = rsa.generate_private_key(65537, 2048)
        jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True) | {"kid": KID, "use": "sig", "alg": "RS256"}
        now = int(time.time())

        def make(n: int, key: Any = private, kid: str = KID, **overrides: Any) -> list[str]:
            out = []
            for i in range(n):
                claims = {
                    "iss": ISSUER,
                    "aud": AUDIENCE,
                    "sub": f"user-{i}-{overrides.get('sub', '')}",
                    "oid": f"0b1d0000-0000-4000-8000-{i:012d}",  # never a value of revocation_list()
                    "azp": "bench-client",
                    "tid": TENANT,
                    "scp": "orders.read orders.write",
                    "iat": now,
                    "nbf": now,
                    "exp": now + 3600,
                    "jti": f"{kid}-{i}-{now}",
                }
                claims.update(overrides)
                out.append(jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "typ": "JWT"}))
            return out

        past = {"exp": now - 7200, "iat": now - 10800, "nbf": now - 10800}
        tokens = {
            "fresh": make(count),
            "request": make(count, sub="request"),
            "v2": make(count, sub="v2"),
            "orders": make(count, sub="orders"),
            "peers": make(count, sub="peers"),
            "bad_signature": [_tamper(t) for t in make(count, sub="forged")],
            "expired": make(count, sub="expired", **past),
            "unknown_kid": make(min(count, 200), key=stranger, kid="not-published"),
        }
        return cls(jwk, tokens)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"jwk": self.jwk, "tokens": self.tokens}))

    @classmethod
    def load(cls, path: Path) -> Material:
        data = json.loads(path.read_text())
        return cls(data["jwk"], data["tokens"])


def _tamper(token: str) -> str:
    head, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[10] ^= 0xFF
    return f"{head}.{payload}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"


def _events() -> dict[str, dict[str, Any]]:
    """The REST REQUEST and HTTP API 2.0 events of events/, their tokens to be replaced."""
    request = json.loads((ROOT / "events" / "rest-request-allow.json").read_text())
    request["methodArn"] = METHOD_ARN
    v2 = json.loads((ROOT / "events" / "http-api-v2-allow.json").read_text())
    v2["routeArn"] = ROUTE_ARN
    return {"request": request, "v2": v2}


def revocation_list(entries: int) -> bytes:
    """A list of every kind of entry, none of which matches the benchmark's tokens (the common case)."""
    kinds = ["subject", "client", "tenant", "token", "session"]
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
    items = []
    for i in range(entries):
        kind = kinds[i % len(kinds)]
        value = str(uuid.UUID(int=i + 1)) if kind in {"subject", "client", "tenant"} else f"{kind}-{i}"
        item: dict[str, Any] = {"id": f"e{i}", "kind": kind, "value": value, "expires": expires, "reason": "bench"}
        if i % 3 == 0:
            item["issued_before"] = expires
        items.append(item)
    return json.dumps({"version": 1, "entries": items}).encode()


REVOCATION_ENTRIES = 1000

# ----- the in-process worker (one configuration per child process) ------------------------------------


CONFIGURATIONS: dict[str, dict[str, str]] = {
    "plain": {},
    "orders": {"ROUTE_RULES_FILE": str(ROOT / "examples" / "orders-rules.json")},
    # A revocation list of REVOCATION_ENTRIES entries polled with ETags every 30 s (the default).
    "revocation": {"REVOCATION_URL": "{base}/revocations.json"},
    "peers": {},
}


class Context:
    function_name = "bench"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"
    aws_request_id = "bench"


@contextmanager
def _silenced(sink: Any) -> Iterator[None]:
    real = sys.stdout
    sys.stdout = sink
    try:
        yield
    finally:
        sys.stdout = real


def _load_app(configuration: str, server: KeyServer, sink: Any) -> Any:
    jwks_url = server.url
    os.environ.update(
        {
            "ISSUER": ISSUER,
            "AUDIENCE": AUDIENCE,
            "JWKS_URI": jwks_url,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_SERVICE_NAME": "bench",
            "POWERTOOLS_METRICS_NAMESPACE": "Bench",
            **{name: value.format(base=server.base) for name, value in CONFIGURATIONS[configuration].items()},
        }
    )
    # The function as deployed: logging and metrics on, written to a sink that costs what stdout costs.
    with _silenced(sink):
        from jwt_authorizer import app
    return app


def build_cases(configuration: str, material: Material, sink: Any) -> tuple[dict[str, Callable[[int], None]], Any]:
    """The calls to time, by case name; every case takes the index of its call."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from jwt.algorithms import RSAAlgorithm

    extra = {"/revocations.json": revocation_list(REVOCATION_ENTRIES)} if configuration == "revocation" else None
    server = KeyServer({"keys": [material.jwk]}, extra=extra)
    public = RSAAlgorithm.from_jwk(material.jwk)
    head, payload, signature = material.tokens["fresh"][0].split(".")
    signing_input = f"{head}.{payload}".encode()
    signature_bytes = base64.urlsafe_b64decode(signature + "==")
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
    tokens = material.tokens
    cases: dict[str, Callable[[int], None]] = {
        "floor": lambda i: public.verify(signature_bytes, signing_input, pkcs1, sha256),  # type: ignore[union-attr]
    }
    if configuration == "peers":
        cases.update(_peer_cases(material, server.url))
        return cases, server

    app = _load_app(configuration, server, sink)
    context = Context()
    handler = app.lambda_handler
    events = _events()

    def call(event: dict[str, Any]) -> None:
        sys.stdout = sink
        try:
            handler(event, context)
        except Exception as exc:
            if str(exc) != "Unauthorized":
                raise
        finally:
            sys.stdout = sys.__stdout__

    def token_event(token: str) -> dict[str, Any]:
        return {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": METHOD_ARN}

    def request_event(token: str) -> dict[str, Any]:
        event = dict(events["request"])
        event["headers"] = {**event["headers"], "Authorization": f"Bearer {token}"}
        event["multiValueHeaders"] = {**event["multiValueHeaders"], "Authorization": [f"Bearer {token}"]}
        return event

    def v2_event(token: str) -> dict[str, Any]:
        event = dict(events["v2"])
        event["headers"] = {**event["headers"], "authorization": f"Bearer {token}"}
        event["identitySource"] = [f"Bearer {token}"]
        return event

    # Events are built before the clock starts: API Gateway hands the function a parsed event.
    prepared = {
        "rest_token_fresh": [token_event(t) for t in tokens["fresh"]],
        "rest_request_fresh": [request_event(t) for t in tokens["request"]],
        "http_v2_simple_fresh": [v2_event(t) for t in tokens["v2"]],
        "bad_signature": [token_event(t) for t in tokens["bad_signature"]],
        "expired": [token_event(t) for t in tokens["expired"]],
        "orders_fresh": [token_event(t) for t in tokens["orders"]],
    }

    def expect(case: str, event: dict[str, Any], outcome: str) -> None:
        """A case that silently decided otherwise would flatter the table: check it once, untimed."""
        sys.stdout = sink
        try:
            answer = handler(event, context)
            statements = answer.get("policyDocument", {}).get("Statement", [])
            allowed = answer.get("isAuthorized", any(s.get("Effect") == "Allow" for s in statements))
            got = "allow" if allowed else "deny"
        except Exception as exc:
            got = str(exc)
        finally:
            sys.stdout = sys.__stdout__
        if got != outcome:
            raise RuntimeError(f"bench case {case} decided {got!r}, not {outcome!r}")

    repeated = token_event(tokens["fresh"][0])
    expect("rest_token_repeated", repeated, "allow")  # the first decision fetches the key set
    if configuration == "orders":
        orders = prepared["orders_fresh"]
        expect("orders_rules_fresh", orders[0], "allow")
        cases["orders_rules_fresh"] = lambda i: call(orders[i + 1])
        cases["orders_rules_repeated"] = lambda i: call(repeated)
        return cases, server
    if configuration == "revocation":
        fresh = prepared["rest_token_fresh"]
        expect("revocation_fresh", fresh[0], "allow")
        cases["revocation_fresh"] = lambda i: call(fresh[i + 1])
        cases["revocation_repeated"] = lambda i: call(repeated)
        return cases, server
    outcomes = {"bad_signature": "Unauthorized", "expired": "Unauthorized"}
    for name in ("rest_token_fresh", "rest_request_fresh", "http_v2_simple_fresh", "bad_signature", "expired"):
        events_ = prepared[name]
        expect(name, events_[0], outcomes.get(name, "allow"))
        cases[name] = lambda i, events_=events_: call(events_[i + 1])  # type: ignore[misc]
    cases["rest_token_repeated"] = lambda i: call(repeated)
    return cases, server


def _peer_cases(material: Material, url: str) -> dict[str, Callable[[int], None]]:
    import jwt

    tokens = material.tokens["peers"]
    client = jwt.PyJWKClient(url, cache_keys=True, lifespan=3600)
    cases: dict[str, Callable[[int], None]] = {}

    def pyjwt_peer(i: int) -> None:
        token = tokens[i]
        key = client.get_signing_key_from_jwt(token)
        jwt.decode(token, key.key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)

    cases["peer_pyjwt"] = pyjwt_peer
    try:
        from aws_lambda_powertools.utilities.auth_alpha import JWTVerifier

        alpha = JWTVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"], jwks={"keys": [material.jwk]})
        cases["peer_powertools_auth_alpha"] = lambda i: alpha.verify(tokens[i])  # type: ignore[no-any-return]
    except ImportError:
        pass
    try:
        from joserfc import jwt as jose_jwt
        from joserfc.jwk import KeySet

        key_set = KeySet.import_key_set({"keys": [material.jwk]})
        registry = jose_jwt.JWTClaimsRegistry(iss={"essential": True, "value": ISSUER}, aud={"value": AUDIENCE})

        def joserfc_peer(i: int) -> None:
            token = jose_jwt.decode(tokens[i], key_set, algorithms=["RS256"])
            registry.validate(token.claims)

        cases["peer_joserfc"] = joserfc_peer
    except ImportError:
        pass
    return cases


def run_rounds(cases: dict[str, Callable[[int], None]], rounds: int, batch: int) -> dict[str, list[float]]:
    """Per-round ratios to the floor, the cases' order rotating from round to round."""
    names = list(cases)
    for name in names:  # warm-up outside the measurement (index 0 of every list is kept for it)
        cases[name](-1)
    ratios: dict[str, list[float]] = {name: [] for name in names if name != "floor"}
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        spent: dict[str, float] = {}
        for name in order:
            case = cases[name]
            base = r * batch
            start = time.thread_time()
            for i in range(base, base + batch):
                case(i)
            spent[name] = time.thread_time() - start
        for name, values in ratios.items():
            values.append(spent[name] / spent["floor"])
        for name in names:
            seconds[name].append(spent[name] / batch)
    return {**ratios, "_seconds": [statistics.median(seconds[n]) for n in names], "_names": names}  # type: ignore[dict-item]


def worker(configuration: str, material_path: Path, rounds: int, batch: int) -> None:
    """Child process: time one configuration and print its figures as JSON."""
    material = Material.load(material_path)
    sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    cases, server = build_cases(configuration, material, sink)
    fetches_before = server.requests
    result: dict[str, Any] = {"ratios": run_rounds(cases, rounds, batch)}
    result["warm_fetches"] = server.requests - fetches_before
    if configuration == "plain":
        result["kid_flood_fetches"] = _kid_flood(material, server, sink)
    print(json.dumps(result))


def _kid_flood(material: Material, server: KeyServer, sink: Any) -> int:
    """Key-set requests caused by a burst of tokens with unknown kids (within one penalty window)."""
    from jwt_authorizer import app

    before = server.requests
    for token in material.tokens["unknown_kid"]:
        event = {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": METHOD_ARN}
        with _silenced(sink):
            try:
                app.lambda_handler(event, Context())
            except Exception as exc:
                if str(exc) != "Unauthorized":
                    raise
    return server.requests - before


# ----- instructions (callgrind) ------------------------------------------------------------------------


def callgrind_worker(configuration: str, material_path: Path, calls: int) -> None:
    """Under callgrind: phases separated by os.getppid(), so each dump holds one phase's instructions."""
    material = Material.load(material_path)
    sink = open(os.devnull, "w")  # noqa: SIM115
    # Everything runs some 50 times slower under valgrind: the early fetch racing the imports and
    # the default deadlines would time out. Set-up is not counted, so it may fetch late and slowly.
    os.environ.update({"JWKS_PREFETCH": "off", "HTTP_CONNECT_TIMEOUT_SECONDS": "5", "HTTP_TIMEOUT_SECONDS": "8"})
    cases, server = build_cases(configuration, material, sink)
    phases = PHASES[configuration]
    for name in phases:
        cases[name](-1)
    for name in phases:
        os.getppid()
        for i in range(calls):
            cases[name](i)
    os.getppid()
    server.close()


PHASES = {
    "plain": ("floor", "rest_token_fresh", "rest_token_repeated", "bad_signature", "expired"),
    "revocation": ("floor", "revocation_fresh", "revocation_repeated"),
}


def instructions(material_path: Path, calls: int) -> dict[str, float] | None:
    """Instructions per call of each phase, from valgrind's dumps; ``None`` without valgrind."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    counted: dict[str, float] = {}
    for configuration, phases in PHASES.items():
        out = Path(tempfile.mkdtemp(prefix="bench-callgrind-"))
        try:
            subprocess.run(
                [
                    valgrind,
                    "--tool=callgrind",
                    f"--dump-before={MARKER}",
                    f"--callgrind-out-file={out}/cg.out",
                    sys.executable,
                    __file__,
                    "--callgrind-worker",
                    configuration,
                    "--material",
                    str(material_path),
                    "--calls",
                    str(calls),
                ],
                check=True,
                capture_output=True,
                timeout=1800,
            )
            # cg.out.1 is start-up, cg.out.2.. the phases in order, cg.out (no suffix) the tail.
            totals = {}
            for dump in out.glob("cg.out.*"):
                line = next(x for x in dump.read_text().splitlines() if x.startswith("totals:"))
                totals[int(dump.suffix[1:])] = int(line.split()[1])
            for index, name in enumerate(phases):
                counted[name if name != "floor" else f"floor_{configuration}"] = totals[index + 2] / calls
        except (subprocess.SubprocessError, OSError, StopIteration, KeyError) as exc:
            print(f"instructions: the callgrind run of {configuration!r} failed ({type(exc).__name__}); no column")
            return None
        finally:
            shutil.rmtree(out, ignore_errors=True)
    counted["floor"] = counted["floor_plain"]
    return counted


# ----- cold start ----------------------------------------------------------------------------------------

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


def runtime_python() -> str | None:
    """CPython 3.13, the Lambda runtime's version: on PATH, or through pyenv."""
    found = shutil.which("python3.13")
    candidates = [found] if found else []
    pyenv = shutil.which("pyenv")
    if pyenv:
        for env in ({}, {"PYENV_VERSION": "3.13"}, {"PYENV_VERSION": "3.13.0"}):
            probe = subprocess.run(
                [pyenv, "which", "python3.13"], capture_output=True, text=True, env={**os.environ, **env}, check=False
            )
            if probe.returncode == 0:
                candidates.append(probe.stdout.strip())
    for candidate in candidates:
        if subprocess.run([candidate, "-c", ""], capture_output=True, check=False).returncode == 0:
            return candidate
    return None


def build_package(python: str | None) -> Path | None:
    """The deployment artifact for this machine's architecture, built by the Makefile's SAM target."""
    target = Path(tempfile.mkdtemp(prefix="bench-artifact-"))
    arch = "x86_64" if platform.machine() in {"x86_64", "AMD64"} else "arm64"
    env = dict(os.environ)
    if python:
        env["PATH"] = f"{Path(python).parent}{os.pathsep}{env.get('PATH', '')}"
    try:
        subprocess.run(
            [
                "make",
                "-s",
                "build-AuthorizerFunction",
                f"ARTIFACTS_DIR={target}",
                f"PYTHON={sys.executable}",
                f"ARCH={arch}",
                f"LAMBDA_PLATFORM=manylinux2014_{'x86_64' if arch == 'x86_64' else 'aarch64'}",
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=900,
            env=env,
        )
    except (subprocess.SubprocessError, OSError):
        shutil.rmtree(target, ignore_errors=True)
        return None
    return target


def _child_cpu(command: list[str], env: dict[str, str]) -> tuple[float, float, dict[str, Any]]:
    """(user+sys CPU seconds, wall seconds, the script's JSON) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, json.loads(out.stdout.strip().splitlines()[-1])


def cold_starts(material: Material, runs: int, python: str, package: Path | None) -> dict[str, Any]:
    instant = KeyServer({"keys": [material.jwk]})
    remote = KeyServer({"keys": [material.jwk]}, delay=0.150)
    base_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "VIRTUAL_ENV", "POWERTOOLS", "AWS_LAMBDA", "JWKS", "ROUTE"))
    }
    base_env.update(
        {
            "ISSUER": ISSUER,
            "AUDIENCE": AUDIENCE,
            "BENCH_TOKEN": material.tokens["fresh"][0],
            "BENCH_ARN": METHOD_ARN,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": str(package) if package is not None else str(ROOT / "src"),
        }
    )
    function = [python, "-c", COLD_SCRIPT.format(body=FUNCTION_BODY)]
    minimal = [python, "-c", COLD_SCRIPT.format(body=MINIMAL_BODY)]
    fast_env = {**base_env, "JWKS_URI": instant.url}
    slow_env = {**base_env, "JWKS_URI": remote.url}
    cpu_ratios, wall_extra, peaks = [], [], []
    cpu_function, cpu_minimal = [], []
    try:
        for _ in range(runs):
            f_cpu, f_wall, f_out = _child_cpu(function, fast_env)
            m_cpu, _, m_out = _child_cpu(minimal, fast_env)
            _, s_wall, _ = _child_cpu(function, slow_env)
            cpu_ratios.append(f_cpu / m_cpu)
            cpu_function.append(f_cpu)
            cpu_minimal.append(m_cpu)
            wall_extra.append(s_wall - f_wall)
            peaks.append(f_out["maxrss_kb"] / m_out["maxrss_kb"])
    finally:
        instant.close()
        remote.close()
    return {
        "cpu_ratio": statistics.median(cpu_ratios),
        "cpu_function_ms": statistics.median(cpu_function) * 1e3,
        "cpu_minimal_ms": statistics.median(cpu_minimal) * 1e3,
        "remote_extra_ms": statistics.median(wall_extra) * 1e3,
        "memory_ratio": statistics.median(peaks),
        "remote_requests": remote.requests,
    }


# ----- the table ---------------------------------------------------------------------------------------

ROWS: list[tuple[str, str, str]] = [
    # (case, label, target)
    ("rest_token_fresh", "REST TOKEN, fresh valid token (full handler)", "<= 2.0"),
    ("rest_token_repeated", "REST TOKEN, same token repeated", "<= 0.2"),
    ("rest_request_fresh", "REST REQUEST, fresh token", ""),
    ("http_v2_simple_fresh", "HTTP API 2.0 simple response, fresh token", ""),
    ("orders_rules_fresh", "orders route rules, fresh token", ""),
    ("orders_rules_repeated", "orders route rules, same token repeated", ""),
    ("revocation_fresh", f"revocation list of {REVOCATION_ENTRIES}, fresh token", ""),
    ("revocation_repeated", f"revocation list of {REVOCATION_ENTRIES}, same token repeated", ""),
    ("bad_signature", "refusal: bad signature", ""),
    ("expired", "refusal: expired", ""),
    ("peer_pyjwt", "peer: PyJWKClient + jwt.decode", ""),
    ("peer_powertools_auth_alpha", "peer: Powertools auth_alpha JWTVerifier", ""),
    ("peer_joserfc", "peer: joserfc decode + claims (verification only)", ""),
]


def _met(value: float, target: str) -> str:
    if not target:
        return ""
    limit = float(target.rsplit(maxsplit=1)[-1])
    return "met" if value <= limit else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--cold-runs", type=int, default=9)
    parser.add_argument("--calls", type=int, default=200, help="calls per phase under callgrind")
    parser.add_argument("--no-callgrind", action="store_true")
    parser.add_argument("--no-cold", action="store_true")
    parser.add_argument("--worker", metavar="CONFIGURATION", help=argparse.SUPPRESS)
    parser.add_argument("--callgrind-worker", metavar="CONFIGURATION", help=argparse.SUPPRESS)
    parser.add_argument("--material", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        worker(args.worker, Path(args.material), args.rounds, args.batch)
        return
    if args.callgrind_worker:
        callgrind_worker(args.callgrind_worker, Path(args.material), args.calls)
        return

    print(
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()} (in-process), {platform.system()} {platform.release()}"
    )
    scratch = Path(tempfile.mkdtemp(prefix="bench-"))
    material_path = scratch / "material.json"
    material = Material.mint(max(args.rounds * args.batch, args.calls) + 2)
    material.save(material_path)

    figures: dict[str, list[float]] = {}
    extra: dict[str, Any] = {}
    for configuration in CONFIGURATIONS:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                configuration,
                "--material",
                str(material_path),
                "--rounds",
                str(args.rounds),
                "--batch",
                str(args.batch),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        ratios = result.pop("ratios")
        names, seconds = ratios.pop("_names"), ratios.pop("_seconds")
        figures.update(ratios)
        extra[configuration] = result
        extra[f"{configuration}_floor_us"] = seconds[names.index("floor")] * 1e6
    counted = None if args.no_callgrind else instructions(material_path, args.calls)

    floor_us = extra["plain_floor_us"]
    print(f"\nfloor: one RSAPublicKey.verify (RSA-2048, PKCS#1 v1.5, SHA-256) = 1.00, {floor_us:.1f} us CPU here")
    print(f"CPU: median of {args.rounds} per-round ratios (batches of {args.batch}, alternating); min-max beside it")
    header = f"{'case':52} {'CPU x':>6} {'(min-max)':>13} {'instr x':>8}  {'target':8} "
    print("\n" + header + "\n" + "-" * len(header))
    for case, label, target in ROWS:
        if case not in figures:
            continue
        values = figures[case]
        median = statistics.median(values)
        instr = ""
        if counted is not None and case in counted:
            floor = counted["floor_revocation" if case.startswith("revocation") else "floor"]
            instr = f"{counted[case] / floor:8.2f}"
        spread = f"({min(values):.2f}-{max(values):.2f})"
        print(f"{label:52} {median:6.2f} {spread:>13} {instr:>8}  {target:8} {_met(median, target)}")
    print(f"\nkey-set requests on the warm path: {extra['plain']['warm_fetches']} (target 0)")
    print(
        f"key-set requests for {len(material.tokens['unknown_kid'])} tokens with unknown kids in one penalty "
        f"window: {extra['plain']['kid_flood_fetches']} (target <= 1)"
    )
    if "revocation_fresh" in figures:
        with_list = statistics.median(figures["revocation_fresh"]) / statistics.median(figures["rest_token_fresh"])
        line = f"a revocation list of {REVOCATION_ENTRIES} entries: a fresh decision costs {with_list:.3f}x CPU"
        if counted is not None:
            line += f", {counted['revocation_fresh'] / counted['rest_token_fresh']:.3f}x instructions"
        print(line + " of one without a list (target <= 1.03)")
    if counted is not None:
        print(f"instructions of one floor call under callgrind: {counted['floor']:,.0f}")

    if not args.no_cold:
        python = runtime_python()
        if python is None:
            print("\ncold start: CPython 3.13 not found (python3.13 or pyenv); skipped")
        else:
            package = build_package(python)
            where = "built package folder" if package is not None else "src/ (the package did not build)"
            cold = cold_starts(material, args.cold_runs, python, package)
            print(f"\ncold start, {where}, {Path(python).name}, median of {args.cold_runs} alternating pairs:")
            print(
                f"  child CPU (user+sys): function {cold['cpu_function_ms']:.0f} ms, minimal PyJWT+urllib3 script "
                f"{cold['cpu_minimal_ms']:.0f} ms, ratio {cold['cpu_ratio']:.2f}  (target <= 1.10: "
                f"{_met(cold['cpu_ratio'], '<= 1.10')})"
            )
            print(
                f"  key source 150 ms away: {cold['remote_extra_ms']:+.0f} ms wall time over an instant one "
                f"(target <= 20 ms: {'met' if cold['remote_extra_ms'] <= 20 else 'NOT met'})"
            )
            print(f"  peak memory (VmHWM) ratio to the minimal script: {cold['memory_ratio']:.2f}")
            if package is not None:
                size = sum(p.stat().st_size for p in package.rglob("*") if p.is_file())
                compiled = any(package.rglob("*.cpython-313.pyc"))
                print(f"  package: {size / 1024 / 1024:.1f} MiB, bytecode included: {'yes' if compiled else 'no'}")
                shutil.rmtree(package, ignore_errors=True)
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
