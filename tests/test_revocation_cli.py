"""``jwt-authorizer revoke`` on files and HTTPS lists, ``--flush`` against API Gateway's wire API, and ``explain``.

moto's server has no route for FlushStageAuthorizersCache or ResetAuthorizersCache (both answer
404 there), so the flush is tested against a loopback server speaking those two operations as
API Gateway documents them: boto3 sends real, signed requests to it.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from jwt_authorizer.cli import main
from jwt_authorizer.config import load_settings
from jwt_authorizer.revocation import iso, loads
from jwt_authorizer.revocation_source import read_once
from jwt_authorizer.revoke_cli import ConcurrentEdit, FileStore
from revocation_helpers import ListServer, document, entry
from support import IdentityProvider
from support import run_cli as cli

ROOT = Path(__file__).resolve().parents[1]
ENV_FILE = ROOT / "events" / "env.json"
ALICE = "0f6c2a4e-1d3b-4c5a-9e8f-7a6b5c4d3e2f"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "revocations.json"


def stored(path: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(path.read_text())["entries"]
    return entries


def test_add_list_remove_on_a_file(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = time.time()
    code, out, err = cli(
        capsys, "revoke", "add", "--list", str(path), "--subject", ALICE.upper(), "--reason", "laptop stolen",
        "--issued-before", "--by", "oncall",
    )  # fmt: skip
    assert code == 0, err
    assert "REVOCATION_REFRESH_SECONDS" in out and "--flush" in out  # says how fast it takes effect
    (first,) = stored(path)
    assert first["value"] == ALICE  # GUIDs are written as Entra writes them
    assert first["created_by"] == "oncall"
    issued_before = loads(path.read_bytes()).entries[0].issued_before
    assert issued_before is not None and math.ceil(before) <= issued_before <= math.ceil(time.time())
    expires = loads(path.read_bytes()).entries[0].expires
    assert 48 * 3600 - 5 <= expires - before <= 48 * 3600 + 5  # the default outlives any Entra access token
    code, _, err = cli(capsys, "revoke", "add", "--list", str(path), "--tenant", "t-1", "--reason", "r", "--id", "T1")
    assert code == 0, err
    code, out, _ = cli(capsys, "revoke", "list", "--list", str(path))
    assert code == 0
    assert "2 entries, 0 expired" in out and "T1  tenant t-1" in out and "laptop stolen" in out
    code, _, err = cli(capsys, "revoke", "remove", "--list", str(path), "T1")
    assert code == 0, err
    assert [e["kind"] for e in stored(path)] == ["subject"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["revocations.json"]  # no temporary or lock files left


def test_expired_entries_are_hidden_and_can_be_pruned(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path.write_text(
        json.dumps(document(entry("token", "old", id="old", expires=time.time() - 60), entry("token", "new", id="new")))
    )
    code, out, _ = cli(capsys, "revoke", "list", "--list", str(path))
    assert "new" in out and "old  token" not in out and "1 expired entry is hidden" in out
    code, out, _ = cli(capsys, "revoke", "list", "--list", str(path), "--all")
    assert "old  token old" in out and "expired;" in out
    code, out, err = cli(capsys, "revoke", "remove", "--list", str(path), "--expired")
    assert code == 0, err
    assert [e["id"] for e in stored(path)] == ["new"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--subject", "a", "--reason", "r", "--expires", "2020-01-01T00:00:00Z"], "not in the future"),
        (["--subject", "a", "--reason", "r", "--expires", "soon"], "neither now, unix seconds"),
        (["--subject", "a", "--reason", "r", "--issued-before", "2026-01-01T00:00:00"], "no time zone"),
        (["--subject", "a", "--reason", "r", "--expires", "1e20"], "between 1970 and the year 9999"),
        (["--subject", "a", "--reason", "r", "--issued-before", "1e20"], "between 1970 and the year 9999"),
        (["--subject", "a", "--reason", "   "], "--reason must say why"),
        (["--subject", " ", "--reason", "r"], "--subject needs a value"),
        (["--subject", "a", "--reason", "r", "--id", "dup"], "already has an entry 'dup'"),
    ],
)
def test_add_refuses_bad_input(path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    path.write_text(json.dumps(document(entry("token", "x", id="dup"))))
    before = path.read_bytes()
    code, _, err = cli(capsys, "revoke", "add", "--list", str(path), *argv)
    assert code == 2 and message in err
    assert path.read_bytes() == before


def test_argument_errors(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["revoke", "add", "--list", str(path), "--subject", "a"])  # no --reason
    assert exited.value.code == 2
    with pytest.raises(SystemExit):
        main(["revoke", "add", "--list", str(path), "--subject", "a", "--client", "b", "--reason", "r"])
    code, _, err = cli(capsys, "revoke", "remove", "--list", str(path), "nope")
    assert code == 2 and "no entry 'nope'" in err
    code, _, err = cli(capsys, "revoke", "list")
    assert code == 2 and "no list given" in err


def test_an_invalid_list_is_never_overwritten(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path.write_text('{"version": 1, "entries": [{"id": "x", "kind": "user"}]}')
    before = path.read_bytes()
    code, _, err = cli(capsys, "revoke", "add", "--list", str(path), "--subject", "a", "--reason", "r")
    assert code == 3 and "not a valid revocation list" in err and "kind 'user'" in err
    assert path.read_bytes() == before


def test_concurrent_file_edits_are_refused(path: Path) -> None:
    one, two = FileStore(path), FileStore(path)
    first, version_one = one.read()
    second, version_two = two.read()
    one.write(
        first.with_entry(loads(json.dumps(document(entry("subject", "a", id="a"))).encode()).entries[0]), version_one
    )
    with pytest.raises(ConcurrentEdit):
        two.write(second, version_two)  # it read "no list": creating one now would drop entry a
    assert [e["id"] for e in stored(path)] == ["a"]


def test_a_list_served_over_https_is_read_only(idp: IdentityProvider, capsys: pytest.CaptureFixture[str]) -> None:
    lists = ListServer(idp)
    lists.publish(entry("session", "s-1", id="S1"))
    code, out, _ = cli(capsys, "revoke", "list", "--list", lists.url)
    assert code == 0 and "S1  session s-1" in out
    code, _, err = cli(capsys, "revoke", "add", "--list", lists.url, "--session", "s-2", "--reason", "r")
    assert code == 2 and "cannot be edited from here" in err


def test_an_edit_keeps_the_mode_of_the_list_file(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A web server of another user may serve the file: rewriting it must not make it owner-only."""
    path.write_text(json.dumps(document(entry("subject", "a", id="a"))))
    path.chmod(0o644)
    assert cli(capsys, "revoke", "add", "--list", str(path), "--subject", "b", "--reason", "r")[0] == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    path.chmod(0o640)
    assert cli(capsys, "revoke", "remove", "--list", str(path), "a")[0] == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    fresh = path.with_name("new.json")
    umask = os.umask(0o027)
    try:
        assert cli(capsys, "revoke", "add", "--list", str(fresh), "--subject", "b", "--reason", "r")[0] == 0
    finally:
        os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640  # what the umask gives a new file


def test_expires_as_unix_seconds_is_a_moment_and_a_duration_has_a_unit(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    moment = int(time.time()) + 7200
    code, _, err = cli(
        capsys, "revoke", "add", "--list", str(path), "--subject", "a", "--reason", "r", "--expires", str(moment)
    )
    assert code == 0, err
    assert stored(path)[0]["expires"] == iso(moment)
    code, _, err = cli(
        capsys, "revoke", "add", "--list", str(path), "--subject", "b", "--reason", "r", "--expires", "600"
    )
    assert code == 2 and "not in the future" in err  # 600 s after 1970, not ten minutes from now
    code, _, err = cli(
        capsys, "revoke", "add", "--list", str(path), "--subject", "c", "--reason", "r", "--expires", "600s"
    )
    assert code == 0, err


@pytest.mark.parametrize(
    ("location", "hidden"),
    [
        ("ftp://ops:pa55word@lists.example/revocations.json", "pa55word"),  # not a file name either
        ("http://lists.example/revocations.json", None),  # plain HTTP from the network, as the function refuses
        ("file:///tmp/revocations.json", None),
    ],
)
def test_a_location_that_is_no_path_s3_or_https_is_refused(
    location: str,
    hidden: str | None,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # were it taken for a path, the list would be created here
    code, _, err = cli(capsys, "revoke", "add", "--list", location, "--subject", "a", "--reason", "r")
    assert code == 2 and "is not a list location" in err and "s3://bucket/key" in err
    assert hidden is None or hidden not in err
    # explain --revocations reads locations the same way (one parser for both tools).
    reading = read_once(location, load_settings({"ISSUER": "https://issuer.example", "AUDIENCE": "api://x"}))
    assert reading.revocations is None and reading.error is not None and "is not a list location" in reading.error
    assert hidden is None or hidden not in reading.error + reading.source
    assert list(tmp_path.rglob("*")) == []


def test_a_file_too_large_to_be_a_list_is_not_read_whole(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with path.open("wb") as sparse:  # 10 MiB and a byte, without writing them
        sparse.truncate(10 * 1024 * 1024 + 1)
    code, _, err = cli(capsys, "revoke", "list", "--list", str(path))
    assert code == 3 and "larger than 10485760 bytes" in err


def test_add_never_grows_a_list_past_what_the_function_reads(
    path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_MAX_BYTES", "1024")
    path.write_text(json.dumps(document(*(entry("subject", f"user-{n}", id=f"u{n}") for n in range(4)))))
    before = path.read_bytes()
    assert len(before) < 1024
    code, _, err = cli(capsys, "revoke", "add", "--list", str(path), "--subject", "user-4", "--reason", "r" * 200)
    assert code == 2 and "not written" in err and "over the 1024 the function reads (HTTP_MAX_BYTES)" in err
    assert path.read_bytes() == before

    # A list already too large (edited by hand): a removal is written, with a warning while still over.
    path.write_text(
        json.dumps(document(*(entry("subject", f"user-{n}", id=f"u{n}", comment="c" * 150) for n in range(4))))
    )
    code, out, err = cli(capsys, "revoke", "remove", "--list", str(path), "u0")
    assert code == 0 and "removed 1 entry" in out and "warning: the list is" in err and "over the 1024" in err
    assert [e["id"] for e in stored(path)] == ["u1", "u2", "u3"]

    for wrong in ("a lot", "100", "99999999999"):
        monkeypatch.setenv("HTTP_MAX_BYTES", wrong)
        code, _, err = cli(capsys, "revoke", "remove", "--list", str(path), "u1")
        assert code == 2 and f"HTTP_MAX_BYTES={wrong!r} is not a whole number of bytes from 1024" in err
        assert [e["id"] for e in stored(path)] == ["u1", "u2", "u3"]


# ----- --flush: API Gateway's result cache ---------------------------------------------------------


class FakeApiGateway:
    """FlushStageAuthorizersCache and ResetAuthorizersCache on 127.0.0.1, as API Gateway's REST API documents them."""

    def __init__(self, rest: set[str], http: set[str]) -> None:
        self.calls: list[tuple[str, str, str]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_DELETE(self) -> None:
                parts = self.path.split("/")
                gateway.calls.append((self.command, self.path, self.headers.get("Authorization", "")))
                if self.path.startswith("/restapis/") and parts[-2:] == ["cache", "authorizers"]:
                    known, status = parts[2] in rest, 202
                elif self.path.startswith("/v2/apis/") and parts[-2:] == ["cache", "authorizers"]:
                    known, status = parts[3] in http, 204
                else:
                    known, status = False, 404
                if known:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"message": "Invalid API identifier specified"}).encode()
                self.send_response(404)
                self.send_header("x-amzn-ErrorType", "NotFoundException")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeApiGateway]:
    pytest.importorskip("boto3")
    fake = FakeApiGateway(rest={"restapi123"}, http={"httpapi45"})
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL_API_GATEWAY": fake.url,
        "AWS_ENDPOINT_URL_APIGATEWAYV2": fake.url,
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield fake
    fake.close()


def add_with_flush(capsys: pytest.CaptureFixture[str], path: Path, *flush: str) -> tuple[int, str, str]:
    return cli(capsys, "revoke", "add", "--list", str(path), "--token", "t", "--reason", "r", "--flush", *flush)


def test_flush_a_rest_api_stage(gateway: FakeApiGateway, path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = add_with_flush(capsys, path, "restapi123", "prod")
    assert code == 0, err
    assert "flushed the authorizer cache of REST API restapi123, stage prod" in out
    assert [(m, p) for m, p, _ in gateway.calls] == [("DELETE", "/restapis/restapi123/stages/prod/cache/authorizers")]
    assert gateway.calls[0][2].startswith("AWS4-HMAC-SHA256 ")  # a signed request, as API Gateway requires


def test_flush_an_http_api_stage_found_after_rest(
    gateway: FakeApiGateway, path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = add_with_flush(capsys, path, "httpapi45", "$default")
    assert code == 0, err
    assert "reset the authorizer cache of HTTP API httpapi45, stage $default" in out
    assert [p for _, p, _ in gateway.calls] == [
        "/restapis/httpapi45/stages/%24default/cache/authorizers",
        "/v2/apis/httpapi45/stages/%24default/cache/authorizers",
    ]
    gateway.calls.clear()
    code, _, err = cli(
        capsys, "revoke", "remove", "--list", str(path), "--expired", "--flush", "httpapi45", "$default",
        "--api-type", "http",
    )  # fmt: skip
    assert code == 0, err
    assert [p for _, p, _ in gateway.calls] == ["/v2/apis/httpapi45/stages/%24default/cache/authorizers"]


def test_a_failed_flush_says_the_list_was_written(
    gateway: FakeApiGateway, path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = add_with_flush(capsys, path, "nosuchapi", "prod")
    assert code == 5
    assert "the list was written, but" in err and "NotFoundException" in err
    assert len(stored(path)) == 1
    code, _, err = cli(
        capsys, "revoke", "add", "--list", str(path), "--token", "u", "--reason", "r", "--flush", "httpapi45",
        "prod", "--api-type", "rest",
    )  # fmt: skip
    assert code == 5 and "FlushStageAuthorizersCache" in err


# ----- explain --------------------------------------------------------------------------------------


def dev_token(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = cli(capsys, "dev-token", *argv)
    assert code == 0, err
    return out.strip()


def test_explain_names_the_matching_entry(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token = dev_token(capsys, "--sub", "alice")
    path.write_text(json.dumps(document(entry("subject", "alice", id="INC-9", reason="stolen laptop"))))
    code, out, _ = cli(capsys, "explain", token, "--env-file", str(ENV_FILE), "--revocations", str(path))
    assert code == 1
    assert re.search(r"FAIL  revocation +\[revoked\] the token is revoked by entry INC-9", out)
    assert "revoke remove INC-9" in out
    assert "REFUSED, reason revoked" in out
    code, out, _ = cli(capsys, "explain", token, "--env-file", str(ENV_FILE), "--revocations", str(path), "--json")
    report = json.loads(out)
    check = next(c for c in report["checks"] if c["name"] == "revocation")
    assert (report["reason"], check["reason"], check["decisive"]) == ("revoked", "revoked", True)
    other = dev_token(capsys, "--sub", "bob")
    code, out, _ = cli(capsys, "explain", other, "--env-file", str(ENV_FILE), "--revocations", str(path))
    assert code == 0 and re.search(r"ok    revocation +no entry of", out) and "(1 in force)" in out


def test_explain_issued_before(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = int(time.time())
    path.write_text(json.dumps(document(entry("subject", "alice", id="S", issued_before=iso(now - 60)))))
    old = dev_token(capsys, "--sub", "alice", "--now", str(now - 120))
    new = dev_token(capsys, "--sub", "alice", "--now", str(now))
    assert cli(capsys, "explain", old, "--env-file", str(ENV_FILE), "--revocations", str(path))[0] == 1
    code, out, _ = cli(capsys, "explain", new, "--env-file", str(ENV_FILE), "--revocations", str(path))
    assert code == 0, out


def test_explain_follows_the_cold_start_policy_when_the_list_is_unreadable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = dev_token(capsys)
    missing = str(tmp_path / "missing.json")
    code, out, _ = cli(capsys, "explain", token, "--env-file", str(ENV_FILE), "--revocations", missing)
    assert code == 3 and re.search(r"ERROR revocation +\[revocation_unavailable\]", out)
    code, out, _ = cli(
        capsys, "explain", token, "--env-file", str(ENV_FILE), "--set", "REVOCATION_URL=http://127.0.0.1:9/r.json",
        "--set", "REVOCATION_COLD_START_POLICY=open",
    )  # fmt: skip
    assert code == 0 and "warn  revocation" in out
