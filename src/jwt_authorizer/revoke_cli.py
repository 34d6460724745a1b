"""``jwt-authorizer revoke add|remove|list``: edit the revocation list in a file or in S3.

Every edit is read, changed and written back with a condition, so two operators editing at once
cannot lose each other's entries: in S3 a PutObject with ``IfMatch`` (the ETag read) or
``IfNoneMatch: *`` (the list did not exist); in a file, the digest read is compared again under an
exclusive lock just before the new file replaces the old one. A refused write changes nothing and
says so (exit code 4): run the command again.

``--flush API_ID STAGE`` then empties API Gateway's authorizer result cache for that stage, so
the change reaches callers whose answer API Gateway had cached (REST: FlushStageAuthorizersCache;
HTTP API: ResetAuthorizersCache; ``--api-type auto`` tries REST first, then HTTP API).

Exit codes: 0 done, 2 usage error, 3 the list could not be read or is invalid, 4 concurrent edit
refused, 5 the list was written but the flush failed.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import hashlib
import json
import math
import os
import secrets
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from . import constants as c
from . import timefmt
from .cli import printable, read_env_file
from .exceptions import FetchError
from .revocation import EMPTY, GUID, KINDS, Entry, InvalidRevocationList, RevocationList, iso, loads
from .revocation import parse_moment as list_moment
from .revocation_source import parse_location, read_object
from .urls import redact_url

EXIT_USAGE = 2
EXIT_UNREADABLE = 3
EXIT_CONFLICT = 4
EXIT_FLUSH_FAILED = 5
DEFAULT_EXPIRES = "48h"  # longer than any Entra access token lives (CAE tokens: up to 28 h)


class RevokeError(Exception):
    """A problem to print without a traceback, with the exit code it maps to."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


class ConcurrentEdit(RevokeError):
    def __init__(self, where: str) -> None:
        super().__init__(
            f"{where} changed since it was read (another edit); nothing was written: run the command again",
            EXIT_CONFLICT,
        )


# ----- where the list is kept ------------------------------------------------------------------


class Store(Protocol):
    def read(self) -> tuple[RevocationList, str | None]:
        """The list and the version read (``None``: it does not exist yet, an empty list)."""
        ...

    def write(self, revocations: RevocationList, version: str | None) -> None:
        """Replace the list only if it is still at ``version``; ``ConcurrentEdit`` otherwise."""
        ...

    def describe(self) -> str: ...


def _parse(data: bytes, where: str) -> RevocationList:
    try:
        return loads(data)
    except InvalidRevocationList as exc:
        raise RevokeError(f"{where} is not a valid revocation list: {exc}", EXIT_UNREADABLE) from None


class FileStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def describe(self) -> str:
        return str(self.path)

    def _digest(self) -> str | None:
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RevokeError(f"cannot read {self.path}: {exc.strerror}", EXIT_UNREADABLE) from None

    def read(self) -> tuple[RevocationList, str | None]:
        try:
            with self.path.open("rb") as source:
                data = source.read(c.MAX_HTTP_MAX_BYTES + 1)  # a mistaken path (a disk image) is not read whole
        except FileNotFoundError:
            return EMPTY, None
        except OSError as exc:
            raise RevokeError(f"cannot read {self.path}: {exc.strerror}", EXIT_UNREADABLE) from None
        if len(data) > c.MAX_HTTP_MAX_BYTES:
            raise RevokeError(
                f"{self.path} is larger than {c.MAX_HTTP_MAX_BYTES} bytes, more than the function can ever read: "
                "it is not a revocation list",
                EXIT_UNREADABLE,
            )
        return _parse(data, str(self.path)), hashlib.sha256(data).hexdigest()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock on the list's folder (the file itself is replaced, so it cannot hold one)."""
        import fcntl  # noqa: PLC0415 - POSIX only, and only for edits

        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _mode(self) -> int:
        try:
            return stat.S_IMODE(self.path.stat().st_mode)
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            return 0o666 & ~umask

    def write(self, revocations: RevocationList, version: str | None) -> None:
        try:
            self._write(revocations, version)
        except OSError as exc:
            raise RevokeError(f"cannot write {self.path}: {exc.strerror or exc}", EXIT_UNREADABLE) from None

    def _write(self, revocations: RevocationList, version: str | None) -> None:
        directory = self.path.parent
        with self._locked():
            if self._digest() != version:
                raise ConcurrentEdit(str(self.path))
            fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
            try:
                # mkstemp makes the file 0600: the list keeps the mode it had (a web server of
                # another user may serve it), and a new one gets the mode the umask gives new files.
                os.fchmod(fd, self._mode())
                with os.fdopen(fd, "wb") as out:
                    out.write(revocations.dumps())
                os.replace(temporary, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise


class S3Store:
    """The list as an S3 object; every write is conditional on the ETag read."""

    def __init__(self, bucket: str, key: str, client: Any) -> None:
        self.bucket = bucket
        self.key = key
        self.client = client

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def read(self) -> tuple[RevocationList, str | None]:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.key)
            data = read_object(response, self.describe(), c.MAX_HTTP_MAX_BYTES, None)
        except FetchError as exc:
            raise RevokeError(f"cannot read {self.describe()}: {exc}", EXIT_UNREADABLE) from None
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in {"NoSuchKey", "404"}:
                return EMPTY, None
            raise RevokeError(f"cannot read {self.describe()}: {code}", EXIT_UNREADABLE) from None
        except BotoCoreError as exc:
            raise RevokeError(f"cannot read {self.describe()}: {exc}", EXIT_UNREADABLE) from None
        return _parse(data, self.describe()), str(response["ETag"])

    def write(self, revocations: RevocationList, version: str | None) -> None:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        condition = {"IfMatch": version} if version is not None else {"IfNoneMatch": "*"}
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=revocations.dumps(),
                ContentType="application/json",
                **condition,
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in {"PreconditionFailed", "ConditionalRequestConflict"} or status in {409, 412}:
                raise ConcurrentEdit(self.describe()) from None
            raise RevokeError(f"cannot write {self.describe()}: {code}", EXIT_UNREADABLE) from None
        except BotoCoreError as exc:
            raise RevokeError(f"cannot write {self.describe()}: {exc}", EXIT_UNREADABLE) from None


class HttpStore:
    """A list served over HTTPS: readable here, edited wherever the server takes it from."""

    def __init__(self, url: str) -> None:
        self.url = url

    def describe(self) -> str:
        return redact_url(self.url)

    def read(self) -> tuple[RevocationList, str | None]:
        from .http import UrllibFetcher  # noqa: PLC0415

        fetcher = UrllibFetcher(c.DEFAULT_HTTP_CONNECT_TIMEOUT_SECONDS, 8.0, c.MAX_HTTP_MAX_BYTES)
        try:
            answer = fetcher.fetch_conditional(self.url, None)
        except FetchError as exc:
            raise RevokeError(str(exc), EXIT_UNREADABLE) from None
        return _parse(answer.body or b"", self.describe()), answer.etag

    def write(self, revocations: RevocationList, version: str | None) -> None:
        raise RevokeError(
            f"{self.describe()} is served over HTTPS and cannot be edited from here: edit the file the server "
            "serves (this command works on a local path), or keep the list in S3"
        )


def _session(args: argparse.Namespace) -> Any:
    try:
        import boto3  # noqa: PLC0415 - only for S3 and API Gateway
    except ImportError:
        raise RevokeError("S3 and --flush need boto3: pip install 'jwt-authorizer[s3]'") from None
    from botocore.exceptions import BotoCoreError  # noqa: PLC0415

    try:
        return boto3.session.Session(profile_name=args.profile, region_name=args.region)
    except BotoCoreError as exc:  # an unknown --profile, a broken AWS configuration
        raise RevokeError(f"AWS session: {exc}") from None


def _s3_client(args: argparse.Namespace) -> Any:
    from botocore.exceptions import BotoCoreError  # noqa: PLC0415

    session = _session(args)
    try:
        return session.client("s3")
    except BotoCoreError as exc:  # an invalid --region
        raise RevokeError(f"S3 client: {exc}") from None


def store_for(location: str, args: argparse.Namespace) -> Store:
    try:
        where = parse_location(location)
    except ValueError as exc:
        raise RevokeError(str(exc)) from None
    if isinstance(where, tuple):
        return S3Store(*where, _s3_client(args))
    if isinstance(where, str):
        return HttpStore(where)
    return FileStore(where)


def _function_env(args: argparse.Namespace) -> dict[str, str]:
    """The function's configuration as this command sees it: --env-file, else the environment."""
    if args.env_file is not None:
        return read_env_file(Path(args.env_file), args.function)
    return dict(os.environ)


def _size_cap(args: argparse.Namespace) -> int:
    """HTTP_MAX_BYTES as the function would read it: a larger list is a failed refresh there."""
    raw = _function_env(args).get(c.HTTP_MAX_BYTES_ENV, "").strip()
    if not raw:
        return c.DEFAULT_HTTP_MAX_BYTES
    try:
        cap = int(raw)
    except ValueError:
        cap = 0
    if not 1024 <= cap <= c.MAX_HTTP_MAX_BYTES:  # the function's own range: it would not start
        raise RevokeError(
            f"{c.HTTP_MAX_BYTES_ENV}={raw!r} is not a whole number of bytes from 1024 to {c.MAX_HTTP_MAX_BYTES}"
        )
    return cap


def _location(args: argparse.Namespace) -> str:
    """--list, else the function's own configuration (the environment or --env-file)."""
    if args.list is not None:
        return str(args.list)
    env = _function_env(args)
    bucket, key = env.get(c.REVOCATION_S3_BUCKET_ENV, "").strip(), env.get(c.REVOCATION_S3_KEY_ENV, "").strip()
    if bucket and key:
        return f"s3://{bucket}/{key}"
    url = env.get(c.REVOCATION_URL_ENV, "").strip()
    if url:
        return url
    raise RevokeError(
        f"no list given: pass --list PATH or --list s3://bucket/key, or set {c.REVOCATION_S3_BUCKET_ENV} and "
        f"{c.REVOCATION_S3_KEY_ENV} (or {c.REVOCATION_URL_ENV}) as for the function"
    )


# ----- reading the command line ------------------------------------------------------------------


def moment(text: str, flag: str, now: float) -> float:
    """``now``, unix seconds, or ISO 8601 with a time zone; within the range a list can hold."""
    if text == "now":
        return now
    try:
        value = timefmt.parse_moment(text, f"{flag} {text!r}", "now, unix seconds nor an ISO 8601 date-time")
        return list_moment(value, flag)
    except (ValueError, InvalidRevocationList) as exc:
        raise RevokeError(str(exc)) from None


def expiry(text: str, now: float) -> float:
    """A duration from now (``48h``, ``2d``, ``90m``, ``600s``) or a moment (unix seconds, ISO 8601)."""
    # A duration has a unit: a bare number is unix seconds, a moment, as wherever a tool takes one.
    seconds = timefmt.duration_seconds(text, unit_required=True)
    if seconds is not None:
        try:
            return list_moment(now + seconds, "--expires")
        except (ValueError, OverflowError, InvalidRevocationList):
            raise RevokeError(f"--expires {text[:40]!r} ends after the year 9999") from None
    return moment(text, "--expires", now)


def new_entry(args: argparse.Namespace, now: float) -> Entry:
    kind = next(k for k in KINDS if getattr(args, k) is not None)
    value = str(getattr(args, kind)).strip()
    if GUID.fullmatch(value):
        value = value.lower()  # as Entra writes ids in tokens (the list matches GUIDs in any case anyway)
    if not value:
        raise RevokeError(f"--{kind} needs a value")
    expires = expiry(args.expires, now)
    if expires <= now:
        raise RevokeError(f"--expires {args.expires} is not in the future")
    issued_before = None
    if args.issued_before is not None:
        # Whole seconds, rounded up: iat has whole seconds, and a token issued in the second of the
        # revocation is refused (its holder signs in again a second later) rather than let through.
        issued_before = float(math.ceil(moment(args.issued_before, "--issued-before", now)))
    reason = args.reason.strip()
    if not reason:
        raise RevokeError("--reason must say why (it is shown in logs and by explain)")
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    return Entry(
        id=args.id or f"rev-{stamp}-{secrets.token_hex(2)}",
        kind=kind,
        value=value,
        expires=float(math.ceil(expires)),
        reason=reason,
        issuer=args.issuer,
        issued_before=issued_before,
        created=float(int(now)),
        created_by=args.by,
        comment=args.comment,
    )


# ----- output ------------------------------------------------------------------------------------


def _relative(moment_: float, now: float) -> str:
    from .doctor import relative  # noqa: PLC0415 - the doctor's plain words

    return relative(moment_, now)


def render(revocations: RevocationList, where: str, now: float, *, everything: bool) -> str:
    shown = revocations.entries if everything else revocations.active(now)
    expired = len(revocations) - len(revocations.active(now))
    lines = [f"{where}: {len(revocations)} entr{'y' if len(revocations) == 1 else 'ies'}, {expired} expired"]
    for entry in shown:
        state = (
            "expired" if not entry.active(now) else f"expires {iso(entry.expires)} ({_relative(entry.expires, now)})"
        )
        lines.append(f"  {printable(entry.id)}  {printable(entry.describe())}")
        lines.append(f"      {state}; reason: {printable(entry.reason)}")
        made = []
        if entry.created is not None:
            made.append(f"added {iso(entry.created)}")
        if entry.created_by is not None:
            made.append(f"by {printable(entry.created_by)}")
        if made:
            lines.append(f"      {' '.join(made)}")
    if expired and not everything:
        lines.append(f"  ({expired} expired entr{'y is' if expired == 1 else 'ies are'} hidden: --all shows them)")
    return "\n".join(lines) + "\n"


# ----- API Gateway's result cache ----------------------------------------------------------------


def flush(session: Any, api_id: str, stage: str, api_type: str) -> str:
    """Flush the stage's authorizer cache; the sentence to print, or ``RevokeError``."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    def code_of(exc: ClientError) -> str:
        return str(exc.response.get("Error", {}).get("Code", "error"))

    tried: list[str] = []
    if api_type in {"auto", "rest"}:
        try:
            session.client("apigateway").flush_stage_authorizers_cache(restApiId=api_id, stageName=stage)
            return f"flushed the authorizer cache of REST API {api_id}, stage {stage}"
        except ClientError as exc:
            if api_type == "rest" or code_of(exc) != "NotFoundException":
                raise RevokeError(
                    f"FlushStageAuthorizersCache {api_id}/{stage}: {code_of(exc)}", EXIT_FLUSH_FAILED
                ) from None
            tried.append(f"no REST API {api_id} with stage {stage}")
        except BotoCoreError as exc:
            raise RevokeError(f"FlushStageAuthorizersCache {api_id}/{stage}: {exc}", EXIT_FLUSH_FAILED) from None
    try:
        session.client("apigatewayv2").reset_authorizers_cache(ApiId=api_id, StageName=stage)
    except ClientError as exc:
        tried.append(f"ResetAuthorizersCache: {code_of(exc)}")
        raise RevokeError(f"could not flush {api_id}/{stage}: {'; '.join(tried)}", EXIT_FLUSH_FAILED) from None
    except BotoCoreError as exc:
        raise RevokeError(f"ResetAuthorizersCache {api_id}/{stage}: {exc}", EXIT_FLUSH_FAILED) from None
    return f"reset the authorizer cache of HTTP API {api_id}, stage {stage}"


# ----- the commands ------------------------------------------------------------------------------


def _edit(
    args: argparse.Namespace,
    change: str,
    *,
    now: float,
    revocations: RevocationList,
    store: Store,
    version: str | None,
    growing: bool,
) -> int:
    """Write an edited list, unless the function would refuse it; a removal is never refused for size."""
    stamped = revocations.stamped(float(int(now)), args.by)
    try:
        body = stamped.dumps()
        loads(body)  # what the function will read: a list it refuses would keep the old one
    except (InvalidRevocationList, ValueError) as exc:  # UnicodeEncodeError: text that is no UTF-8
        raise RevokeError(f"not written: the function would refuse this list ({exc})") from None
    cap = _size_cap(args)
    oversized = (
        f"the list is {len(body)} bytes, over the {cap} the function reads ({c.HTTP_MAX_BYTES_ENV}), so every "
        "refresh fails and keeps the list it had before"
    )
    if len(body) > cap and growing:
        raise RevokeError(
            f"not written: {oversized}. Remove entries (revoke remove --expired drops the expired ones), or raise "
            f"{c.HTTP_MAX_BYTES_ENV} for the function and in this command's environment or --env-file"
        )
    store.write(stamped, version)
    count = len(revocations)
    print(f"{change} in {store.describe()} ({count} entr{'y' if count == 1 else 'ies'} now)")
    if len(body) > cap:  # smaller than before, still too large: written, since it is a step the right way
        print(f"jwt-authorizer revoke: warning: {oversized}: remove more entries", file=sys.stderr)
    print(
        f"Takes effect in each warm container within {c.REVOCATION_REFRESH_ENV} (default "
        f"{c.DEFAULT_REVOCATION_REFRESH_SECONDS} s), plus API Gateway's result cache TTL for answers it "
        "cached before" + ("." if args.flush else " (use --flush API_ID STAGE to empty it).")
    )
    return _flush_if_asked(args, written=True)


def _flush_if_asked(args: argparse.Namespace, *, written: bool = False) -> int:
    if not args.flush:
        return 0
    api_id, stage = args.flush
    try:
        print(flush(_session(args), api_id, stage, args.api_type))
    except RevokeError as exc:
        prefix = "the list was written, but: " if written else ""
        print(f"jwt-authorizer revoke: {prefix}{exc}", file=sys.stderr)
        return exc.code
    return 0


def run_add(args: argparse.Namespace, now: float, store: Store | None = None) -> int:
    store = store or store_for(_location(args), args)
    entry = new_entry(args, now)
    revocations, version = store.read()
    if revocations.find(entry.id) is not None:
        raise RevokeError(f"the list already has an entry {entry.id!r}: choose another --id")
    updated = revocations.with_entry(entry)
    change = f"added {entry.id}: {entry.describe()}, expires {iso(entry.expires)}"
    return _edit(args, change, now=now, revocations=updated, store=store, version=version, growing=True)


def run_remove(args: argparse.Namespace, now: float, store: Store | None = None) -> int:
    store = store or store_for(_location(args), args)
    revocations, version = store.read()
    ids = list(args.ids)
    missing = [i for i in ids if revocations.find(i) is None]
    if missing:
        raise RevokeError(f"no entry {', '.join(repr(m) for m in missing)} in {store.describe()} (see revoke list)")
    if args.expired:
        ids += [e.id for e in revocations.entries if not e.active(now)]
        if not ids:
            print(f"no expired entries in {store.describe()}; nothing written")
            return _flush_if_asked(args)
    if not ids:
        raise RevokeError("name the entries to remove (ID ...), or pass --expired")
    updated = revocations.without(ids)
    removed = len(revocations) - len(updated)
    change = f"removed {removed} entr{'y' if removed == 1 else 'ies'}"
    return _edit(args, change, now=now, revocations=updated, store=store, version=version, growing=False)


def run_list(args: argparse.Namespace, now: float, store: Store | None = None) -> int:
    store = store or store_for(_location(args), args)
    revocations, version = store.read()
    if args.json:
        print(json.dumps(revocations.to_json(), indent=2, ensure_ascii=False))
    else:
        where = store.describe() + ("" if version is not None else " (does not exist yet)")
        sys.stdout.write(render(revocations, where, now, everything=args.all))
    return 0


def run_revoke(args: argparse.Namespace, store: Store | None = None) -> int:
    """The ``revoke`` command; ``store`` replaces the one ``--list`` names (tests, embedding tools)."""
    now = time.time()
    try:
        code: int = {"add": run_add, "remove": run_remove, "list": run_list}[args.action](args, now, store)
    except RevokeError as exc:
        print(f"jwt-authorizer revoke {args.action}: {exc}", file=sys.stderr)
        return exc.code
    return code


def add_parser(commands: Any) -> None:
    """Register ``revoke`` on the main parser's subcommands."""
    revoke = commands.add_parser(
        "revoke",
        help="add, remove or list entries of the revocation list (a file or an S3 object)",
        description=(
            "Edit the revocation list the function reads (docs/revocation.md). Edits are conditional writes: "
            "two operators editing at once cannot lose each other's entries. Exit codes: 0 done, 2 usage, "
            "3 list unreadable or invalid, 4 concurrent edit refused (run again), 5 written but the flush failed."
        ),
    )
    actions = revoke.add_subparsers(dest="action", required=True, metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--list",
        metavar="LOCATION",
        help="a path or s3://bucket/key (default: REVOCATION_S3_BUCKET/KEY or REVOCATION_URL of the environment)",
    )
    common.add_argument("--env-file", help="read the list's location from a SAM --env-vars file instead")
    common.add_argument("--function", default="AuthorizerFunction", help="the function block of --env-file")
    common.add_argument("--profile", help="AWS profile for S3 and --flush")
    common.add_argument("--region", help="AWS region for S3 and --flush")
    editing = argparse.ArgumentParser(add_help=False)
    editing.add_argument("--by", default=_whoami(), help="who makes the change (default: %(default)s)")
    editing.add_argument(
        "--flush",
        nargs=2,
        metavar=("API_ID", "STAGE"),
        help="then flush API Gateway's authorizer cache of this API stage",
    )
    editing.add_argument(
        "--api-type",
        choices=("auto", "rest", "http"),
        default="auto",
        help="what --flush flushes: REST API, HTTP API, or try REST then HTTP (default)",
    )

    add = actions.add_parser(
        "add", parents=[common, editing], help="revoke a subject, client, tenant, token or session"
    )
    which = add.add_mutually_exclusive_group(required=True)
    for kind, claims in KINDS.items():
        which.add_argument(f"--{kind}", metavar="VALUE", help=f"matches the {'/'.join(claims)} claim")
    add.add_argument("--reason", required=True, help="why (shown in the function's logs and by explain)")
    add.add_argument("--issuer", help="only tokens with exactly this iss")
    add.add_argument(
        "--issued-before",
        nargs="?",
        const="now",
        metavar="MOMENT",
        help="only tokens issued before MOMENT (now when given alone): a new sign-in gets through",
    )
    add.add_argument(
        "--expires",
        default=DEFAULT_EXPIRES,
        help="when the entry lapses: a duration (48h, 7d) or a moment (default %(default)s)",
    )
    add.add_argument("--id", help="the entry's id (default: rev-<UTC time>-<random>)")
    add.add_argument("--comment", help="a note kept with the entry")
    add.set_defaults(handler=run_revoke)

    remove = actions.add_parser("remove", parents=[common, editing], help="remove entries by id")
    remove.add_argument("ids", nargs="*", metavar="ID")
    remove.add_argument("--expired", action="store_true", help="also remove every expired entry")
    remove.set_defaults(handler=run_revoke)

    listing = actions.add_parser("list", parents=[common], help="show the entries in force")
    listing.add_argument("--all", action="store_true", help="include expired entries")
    listing.add_argument("--json", action="store_true", help="print the list document")
    listing.set_defaults(handler=run_revoke)


def _whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
