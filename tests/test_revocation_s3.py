"""The list in S3, through moto's standalone server on 127.0.0.1 (a real HTTP S3 API, not in-process mocks).

Covered: GetObject with IfNoneMatch (304), the function reading its list from S3 through
``lambda_handler``, missing objects and buckets, and the CLI's conditional writes: PutObject with
IfNoneMatch '*' to create, IfMatch to change, and a concurrent edit refused.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

from jwt_authorizer.cli import build_parser  # noqa: E402
from jwt_authorizer.config import load_settings  # noqa: E402
from jwt_authorizer.revocation import parse_list  # noqa: E402
from jwt_authorizer.revocation_source import S3ListSource, read_once  # noqa: E402
from jwt_authorizer.revoke_cli import ConcurrentEdit, S3Store, run_revoke  # noqa: E402
from revocation_helpers import document, entry  # noqa: E402
from support import IdentityProvider, KeyPair, ManualClock, Outcome, claims, env_for, outcome_of, rest_token_event  # noqa: E402
from support import run_cli as cli  # noqa: E402

ALICE = "0f6c2a4e-1d3b-4c5a-9e8f-7a6b5c4d3e2f"
REGION = "eu-west-1"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> str:
    """Credentials and region as an operator's shell (or Lambda) has them; S3 at the loopback endpoint."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "REVOCATION_S3_BUCKET", "REVOCATION_S3_KEY", "REVOCATION_URL"):
        monkeypatch.delenv(name, raising=False)
    return s3_endpoint


@pytest.fixture
def bucket(aws: str) -> str:
    name = f"revocations-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


def put(bucket: str, key: str, *entries: dict[str, Any]) -> str:
    answer = boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(document(*entries)).encode())
    return str(answer["ETag"])


def source(bucket: str, key: str = "prod/revocations.json") -> S3ListSource:
    return S3ListSource(bucket, key, connect_timeout=1.0, read_timeout=2.5, max_bytes=256 * 1024)


def test_get_object_with_if_none_match(bucket: str) -> None:
    etag = put(bucket, "prod/revocations.json", entry("subject", ALICE, id="a"))
    list_source = source(bucket)
    first = list_source.load(None)
    assert first.body is not None and first.etag == etag
    assert [e.id for e in parse_list(json.loads(first.body)).entries] == ["a"]
    assert list_source.load(etag).body is None  # 304: nothing transferred
    newer = put(bucket, "prod/revocations.json", entry("subject", ALICE, id="a"), entry("tenant", "t", id="b"))
    changed = list_source.load(etag)
    assert changed.body is not None and changed.etag == newer


def test_missing_objects_and_oversized_ones_are_fetch_failures(bucket: str, idp: IdentityProvider) -> None:
    settings = load_settings(env_for(idp, REVOCATION_S3_BUCKET=bucket, REVOCATION_S3_KEY="nothing-here.json"))
    reading = read_once(f"s3://{bucket}/nothing-here.json", settings)
    assert reading.revocations is None and "NoSuchKey" in str(reading.error)
    reading = read_once("s3://no-such-bucket-jwt-authorizer/r.json", settings)
    assert reading.revocations is None and "NoSuchBucket" in str(reading.error)
    put(bucket, "big.json", *(entry("token", f"jti-{i}", id=f"t{i}") for i in range(40)))
    small = S3ListSource(bucket, "big.json", connect_timeout=1.0, read_timeout=2.5, max_bytes=2048)
    with pytest.raises(Exception, match="over 2048"):
        small.load(None)


def test_the_function_reads_its_list_from_s3(
    bucket: str, load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider
) -> None:
    key = "prod/revocations.json"
    put(bucket, key, entry("subject", ALICE, id="INC-1"))
    app = load_app(REVOCATION_S3_BUCKET=bucket, REVOCATION_S3_KEY=key)
    clock = ManualClock(time.monotonic())
    app.REVOCATIONS.clock = clock
    alice = signer.sign(claims(idp.issuer, oid=ALICE))
    bob = signer.sign(claims(idp.issuer, oid="9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"))
    assert outcome_of(app, rest_token_event(alice)) == Outcome(401, "revoked")
    assert outcome_of(app, rest_token_event(bob)) == Outcome(200, "granted")
    put(bucket, key, entry("subject", ALICE, id="INC-1"), entry("subject", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"))
    clock.advance(31)
    assert outcome_of(app, rest_token_event(bob)) == Outcome(401, "revoked")
    assert app.REVOCATIONS.updates == 2


def test_a_function_whose_object_is_missing_answers_500(
    bucket: str, load_app: Callable[..., ModuleType], signer: KeyPair, idp: IdentityProvider
) -> None:
    app = load_app(REVOCATION_S3_BUCKET=bucket, REVOCATION_S3_KEY="missing.json")
    assert outcome_of(app, rest_token_event(signer.sign(claims(idp.issuer)))) == Outcome(500, "revocation_unavailable")
    assert "NoSuchKey" in str(app.REVOCATIONS.last_error)


# ----- the CLI's conditional writes ---------------------------------------------------------------


def test_cli_creates_edits_and_lists_the_s3_object(bucket: str, capsys: pytest.CaptureFixture[str]) -> None:
    location = f"s3://{bucket}/prod/revocations.json"
    code, out, err = cli(
        capsys, "revoke", "add", "--list", location, "--subject", ALICE.upper(), "--reason", "laptop stolen",
        "--id", "INC-1", "--issued-before", "--by", "alice@example.com",
    )  # fmt: skip
    assert code == 0, err
    assert f"added INC-1: subject {ALICE} (tokens issued before" in out
    code, out, err = cli(
        capsys, "revoke", "add", "--list", location, "--client", "leaky-app", "--reason", "secret leaked"
    )
    assert code == 0, err
    stored = json.loads(boto3.client("s3").get_object(Bucket=bucket, Key="prod/revocations.json")["Body"].read())
    assert [e["kind"] for e in stored["entries"]] == ["subject", "client"]
    assert stored["entries"][0]["created_by"] == "alice@example.com"
    code, out, _ = cli(capsys, "revoke", "list", "--list", location)
    assert code == 0 and "INC-1" in out and "leaky-app" in out and "laptop stolen" in out
    code, out, err = cli(capsys, "revoke", "remove", "--list", location, "INC-1")
    assert code == 0, err
    code, out, _ = cli(capsys, "revoke", "list", "--list", location, "--json")
    assert [e["kind"] for e in json.loads(out)["entries"]] == ["client"]


def test_cli_reads_the_location_from_the_function_environment(
    bucket: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVOCATION_S3_BUCKET", bucket)
    monkeypatch.setenv("REVOCATION_S3_KEY", "r.json")
    code, out, err = cli(capsys, "revoke", "add", "--token", "jti-7", "--reason", "token posted in a ticket")
    assert code == 0, err
    assert f"in s3://{bucket}/r.json" in out


def test_concurrent_edits_are_refused(bucket: str) -> None:
    client = boto3.client("s3")
    one, two = S3Store(bucket, "r.json", client), S3Store(bucket, "r.json", boto3.client("s3"))
    # Both find no list; the first creates it, the second's create is refused (IfNoneMatch '*').
    first, version_one = one.read()
    second, version_two = two.read()
    assert version_one is None and version_two is None
    one.write(first.with_entry(parse_list(document(entry("subject", "a", id="a"))).entries[0]), version_one)
    with pytest.raises(ConcurrentEdit):
        two.write(second.with_entry(parse_list(document(entry("subject", "b", id="b"))).entries[0]), version_two)
    # Both read version 1; the first change wins, the second (IfMatch the old ETag) is refused.
    first, version_one = one.read()
    second, version_two = two.read()
    one.write(first.without(["a"]), version_one)
    with pytest.raises(ConcurrentEdit):
        two.write(second.with_entry(parse_list(document(entry("subject", "c", id="c"))).entries[0]), version_two)
    final, _ = one.read()
    assert [e.id for e in final.entries] == []  # nothing of the refused edits, nothing lost of the accepted one


def test_cli_reports_a_concurrent_edit_with_exit_code_4(bucket: str, capsys: pytest.CaptureFixture[str]) -> None:
    location = f"s3://{bucket}/r.json"
    assert cli(capsys, "revoke", "add", "--list", location, "--subject", "a", "--reason", "x", "--id", "a")[0] == 0
    store = S3Store(bucket, "r.json", boto3.client("s3"))

    def competitor(**_: Any) -> None:
        # Another operator's edit lands between this command's read and its write.
        boto3.client("s3").put_object(Bucket=bucket, Key="r.json", Body=json.dumps(document()).encode())

    store.client.meta.events.register_first("before-call.s3.PutObject", competitor)
    args = build_parser().parse_args(
        ["revoke", "add", "--list", location, "--subject", "b", "--reason", "y", "--id", "b"]
    )
    assert run_revoke(args, store) == 4
    assert "changed since it was read" in capsys.readouterr().err
    stored = json.loads(boto3.client("s3").get_object(Bucket=bucket, Key="r.json")["Body"].read())
    assert stored["entries"] == []  # the competitor's write stands, this one did not overwrite it
