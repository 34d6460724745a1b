"""`make bench` (revocation part): what the revocation list costs a decision, in CPU time.

Each configuration runs in its own worker process, a cold-started ``jwt_authorizer.app`` with the
key set (and the list) on 127.0.0.1 served by this process:

* ``list``: this tree, with a revocation list of ``--entries`` entries of every kind (none of them
  matching the benchmark's tokens: the common case) polled with ETags every 30 s (the default);
* ``plain``: this tree, no list;
* ``base``: the tree before the feature (``--base``, default the merge base with main), no list.

Rounds alternate between the workers; each round runs a batch of one case in one worker and
measures ``time.thread_time()`` around it there (the servers' work is in this process, not
counted). The figures are medians of per-round ratios, so a noisy machine slows both sides alike.
Nothing here asserts; it prints the ratios beside their targets: a fresh decision with a list at
most 3 % dearer than without, and the warm repeated-token path without a list unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ROOT = Path(__file__).resolve().parents[1]
ISSUER = "https://bench-issuer.example"
AUDIENCE = "api://bench"
KID = "bench-key"
METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/GET/orders/42"
TENANT = "11111111-1111-1111-1111-111111111111"


class Documents:
    """The key set and the revocation list on 127.0.0.1, with ETags and 304 for the list."""

    def __init__(self, documents: dict[str, bytes]) -> None:
        self.counts: dict[str, list[int]] = {path: [] for path in documents}
        served = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                body = documents[self.path]
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    served.counts[self.path].append(304)
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                served.counts[self.path].append(200)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def revocation_list(entries: int) -> bytes:
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


def mint(private: rsa.RSAPrivateKey, n: int) -> list[str]:
    """Tokens shaped like Entra's: every claim the list can match is present (the most lookups)."""
    now = int(time.time())
    tokens = []
    for i in range(n):
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": f"user-{i}",
            "oid": str(uuid.uuid4()),
            "tid": TENANT,
            "azp": "22222222-2222-2222-2222-222222222222",
            "sid": str(uuid.uuid4()),
            "uti": uuid.uuid4().hex[:22],
            "jti": f"{i}-{now}",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "scp": "orders.read",
        }
        tokens.append(jwt.encode(claims, private, algorithm="RS256", headers={"kid": KID}))
    return tokens


WORKER = r"""
import json, os, sys, time
sys.stdout, out = open(os.devnull, "w"), sys.stdout
import jwt_authorizer.app as app

class Context:
    function_name = "bench"; memory_limit_in_mb = 256; aws_request_id = "bench"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"

context = Context()
tokens = json.load(open(os.environ["BENCH_TOKENS"]))
arn = os.environ["BENCH_ARN"]
fresh = iter(tokens[1:])
repeated = tokens[0]

def decide(token):
    app.lambda_handler({"type": "TOKEN", "authorizationToken": "Bearer " + token, "methodArn": arn}, context)

decide(repeated)
out.write("ready\n"); out.flush()
for line in sys.stdin:
    case, batch = line.split()
    batch = int(batch)
    if case == "fresh":
        todo = [next(fresh) for _ in range(batch)]
        start = time.thread_time()
        for token in todo:
            decide(token)
    else:
        start = time.thread_time()
        for _ in range(batch):
            decide(repeated)
    elapsed = time.thread_time() - start
    out.write(json.dumps({"seconds": elapsed}) + "\n"); out.flush()
"""


ONESHOT = r"""
import json, os, sys
sys.stdout = open(os.devnull, "w")
import jwt_authorizer.app as app

class Context:
    function_name = "bench"; memory_limit_in_mb = 256; aws_request_id = "bench"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"

tokens = json.load(open(os.environ["BENCH_TOKENS"]))
case, n = os.environ["BENCH_CASE"], int(os.environ["BENCH_N"])
for i in range(n + 1):
    token = tokens[i] if case == "fresh" else tokens[0]
    app.lambda_handler(
        {"type": "TOKEN", "authorizationToken": "Bearer " + token, "methodArn": os.environ["BENCH_ARN"]}, Context()
    )
"""


def instructions(source: Path, env: dict[str, str], case: str, n: int) -> int:
    """Instructions of a whole process deciding ``n`` (+1) times, counted by callgrind."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", ONESHOT],
        env={**env, "PYTHONPATH": str(source), "PYTHONHASHSEED": "0", "BENCH_CASE": case, "BENCH_N": str(n)},
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(line for line in done.stderr.splitlines() if "Collected :" in line)
    return int(line.rsplit(":", 1)[1].strip())


def per_decision(source: Path, env: dict[str, str], case: str, low: int, high: int) -> float:
    """Instructions per decision: the difference of two runs, so start-up cancels out."""
    return (instructions(source, env, case, high) - instructions(source, env, case, low)) / (high - low)


class Worker:
    def __init__(self, name: str, source: Path, env: dict[str, str]) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER],
            env={**env, "PYTHONPATH": str(source)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        ready = self.process.stdout.readline().strip()
        if ready != "ready":
            raise RuntimeError(f"worker {name} did not start")

    def run(self, case: str, batch: int) -> float:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{case} {batch}\n")
        self.process.stdin.flush()
        return float(json.loads(self.process.stdout.readline())["seconds"]) / batch

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(30)


def base_source(ref: str, into: Path) -> Path | None:
    """The package as it was at ``ref``, unpacked from git; ``None`` when git cannot give it."""
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref, "src/jwt_authorizer"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return into / "src"


def default_base() -> str | None:
    try:
        found = subprocess.run(
            ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"], check=True, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return found or None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--batch", type=int, default=150, help="fresh decisions per round and worker")
    parser.add_argument("--entries", type=int, default=1000, help="entries in the benchmark's list")
    parser.add_argument("--base", default=None, help="git ref of the tree before the feature (default: merge base)")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions per decision with valgrind's callgrind (noise-free; takes minutes)",
    )
    args = parser.parse_args()

    private = rsa.generate_private_key(65537, 2048)
    jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True) | {"kid": KID, "use": "sig", "alg": "RS256"}
    served = Documents(
        {"/keys": json.dumps({"keys": [jwk]}).encode(), "/revocations.json": revocation_list(args.entries)}
    )
    scratch = Path(tempfile.mkdtemp(prefix="bench-revocation-"))
    workers: dict[str, Worker] = {}
    try:
        tokens_file = scratch / "tokens.json"
        tokens_file.write_text(json.dumps(mint(private, args.rounds * args.batch + 1)))
        env = {
            **os.environ,
            "ISSUER": ISSUER,
            "AUDIENCE": AUDIENCE,
            "JWKS_URI": f"{served.base}/keys",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_SERVICE_NAME": "bench",
            "BENCH_TOKENS": str(tokens_file),
            "BENCH_ARN": METHOD_ARN,
        }
        for name in [n for n in env if n.startswith("REVOCATION_")]:
            del env[name]
        here = ROOT / "src"
        with_list = {**env, "REVOCATION_URL": f"{served.base}/revocations.json"}
        workers["list"] = Worker("list", here, with_list)
        workers["plain"] = Worker("plain", here, env)
        ref = args.base or default_base()
        base = base_source(ref, scratch) if ref else None
        if base is not None:
            workers["base"] = Worker("base", base, env)
        counted: dict[tuple[str, str], float] = {}
        if args.instructions and shutil.which("valgrind"):
            # No refresh inside the counted runs (valgrind is slow enough to reach 30 s): the refresh is
            # one conditional request per container per interval, amortised over its decisions.
            sources = {"list": (here, {**with_list, "REVOCATION_REFRESH_SECONDS": "3600"}), "plain": (here, env)}
            if base is not None:
                sources["base"] = (base, env)
            for name, (source, environment) in sources.items():
                counted[(name, "fresh")] = per_decision(source, environment, "fresh", 50, 350)
                counted[(name, "repeated")] = per_decision(source, environment, "repeated", 200, 2200)

        samples: dict[tuple[str, str], list[float]] = {}
        order = list(workers.items())
        for round_ in range(args.rounds):
            for case, batch in (("fresh", args.batch), ("repeated", args.batch * 10)):
                # ABBA: the order of the workers flips every round, so drift favours no one.
                for name, worker in order if round_ % 2 == 0 else order[::-1]:
                    samples.setdefault((name, case), []).append(worker.run(case, batch))
    finally:
        for worker in workers.values():
            worker.close()
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"\nrevocation list: {args.entries} entries of every kind, none matching; {args.rounds} alternating rounds")
    if args.rounds > 0:
        print_times(samples, ref, "base" in workers)
    if counted:
        print("instructions per decision (callgrind, the difference of two runs):")
        for (name, case), count in counted.items():
            print(f"  {name:6} {case:9} {count:11.0f}")
        pairs = [
            ("fresh token, with the list / no list", ("list", "fresh"), ("plain", "fresh")),
            ("same token, with the list / no list", ("list", "repeated"), ("plain", "repeated")),
            ("same token, no list: now / before", ("plain", "repeated"), ("base", "repeated")),
            ("fresh token, no list: now / before", ("plain", "fresh"), ("base", "fresh")),
        ]
        for label, a, b in pairs:
            if a in counted and b in counted:
                print(f"  {label:44} {counted[a] / counted[b]:.4f}")
    elif args.instructions:
        print("(--instructions: valgrind is not installed)")
    statuses = served.counts["/revocations.json"]
    print(f"list requests: {len(statuses)} ({statuses.count(200)} x 200, {statuses.count(304)} x 304 Not Modified)")


def print_times(samples: dict[tuple[str, str], list[float]], ref: str | None, with_base: bool) -> None:
    def ratio(a: str, b: str, case: str) -> float:
        return statistics.median(x / y for x, y in zip(samples[(a, case)], samples[(b, case)], strict=True))

    def per_call(name: str, case: str) -> str:
        return f"{statistics.median(samples[(name, case)]) * 1e6:8.1f} us"

    print(f"{'case':46} {'CPU/call':>11}")
    for name, label in (
        ("plain", "no list"),
        ("list", "with the list"),
        ("base", f"before the feature ({(ref or '')[:10]})"),
    ):
        if (name, "fresh") in samples:
            print(f"{'fresh token, ' + label:46} {per_call(name, 'fresh')}")
            print(f"{'same token repeated, ' + label:46} {per_call(name, 'repeated')}")
    print(f"{'ratio':46} {'median':>11}  target")
    print(f"{'fresh token: with the list / no list':46} {ratio('list', 'plain', 'fresh'):11.3f}  <= 1.03")
    print(f"{'same token: with the list / no list':46} {ratio('list', 'plain', 'repeated'):11.3f}")
    if with_base:
        print(f"{'same token, no list: now / before':46} {ratio('plain', 'base', 'repeated'):11.3f}  1.00 (unchanged)")
        print(f"{'fresh token, no list: now / before':46} {ratio('plain', 'base', 'fresh'):11.3f}  1.00 (unchanged)")
    else:
        print("(no tree before the feature: git or the base ref is not at hand)")


if __name__ == "__main__":
    main()
