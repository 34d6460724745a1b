"""The command line: ``jwt-authorizer explain`` (the token doctor) and ``jwt-authorizer dev-token``.

``explain`` reads the configuration exactly as the function does (the process environment by
default, or a SAM ``--env-vars`` file), runs every check of the engine and prints, for each, pass
or fail and, for a failure, the cause and the fix. It never prints the token or its signature.

Exit codes: 0 accepted, 1 refused (the function answers 401), 2 usage or configuration error,
3 undecided (the function answers 500: the key source is unreachable).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from . import constants as c
from . import timefmt
from .config import load_settings
from .doctor import (
    Check,
    Report,
    Status,
    Verdict,
    decode_for_display,
    explain,
    numeric_date,
    relative,
    report_json,
    utc,
)
from .exceptions import ConfigurationError
from .revocation_source import read_once

EXIT_USAGE = 2
FUNCTION_BLOCK = "AuthorizerFunction"
_TIME_CLAIMS = frozenset({"iat", "nbf", "exp", "auth_time"})
_MAX_CELL = 160
_WIDTH = 100
_MARKS = {Status.PASS: "ok", Status.WARN: "warn", Status.FAIL: "FAIL", Status.ERROR: "ERROR", Status.SKIP: "skip"}


class UsageError(Exception):
    """Bad input on the command line; printed without a traceback, exit code 2."""


# ----- input ------------------------------------------------------------------------------------


def read_env_file(path: Path, function: str = FUNCTION_BLOCK) -> dict[str, str]:
    """A SAM ``--env-vars`` file: ``Parameters`` (every function), then the function's own block."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{path} is not JSON: {str(exc)[:200]}") from None
    if not isinstance(document, dict):
        raise UsageError(f"{path} is not a SAM env-vars file (a JSON object of function blocks)")
    block = document.get(function)
    if not isinstance(block, dict):
        blocks = ", ".join(sorted(k for k, v in document.items() if isinstance(v, dict))) or "none"
        raise UsageError(f"{path} has no {function!r} block (it has: {blocks}); choose one with --function")
    env: dict[str, str] = {}
    shared = document.get("Parameters")
    for source in (shared if isinstance(shared, dict) else {}, block):
        for name, value in source.items():
            if value is not None:
                env[str(name)] = value if isinstance(value, str) else json.dumps(value)
    return env


def clean_token(raw: str) -> str:
    """Strip what people paste around a token: whitespace, quotes, ``Authorization:``, ``Bearer``."""
    token = raw.strip().strip("'\"").strip()
    if token.lower().startswith("authorization:"):
        token = token[len("authorization:") :].strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    return token


def read_token(argument: str, stdin: TextIO) -> str:
    token = clean_token(stdin.read() if argument == "-" else argument)
    if not token:
        raise UsageError("no token given (pass it as an argument, or - to read standard input)")
    return token


def parse_moment(text: str | None) -> float | None:
    """Unix seconds, or an ISO 8601 date-time (``2024-10-09T04:29:27Z``)."""
    if text is None:
        return None
    try:
        return timefmt.parse_moment(text, f"--now {text!r}")
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def explain_environment(args: argparse.Namespace) -> tuple[dict[str, str], str]:
    """The function's environment as ``explain`` should see it, and where it came from."""
    if args.env_file is not None:
        env = read_env_file(args.env_file, args.function)
        source = f"{args.env_file} ({args.function})"
    else:
        env = dict(os.environ)
        source = "the process environment"
    overrides: list[str] = []
    if args.issuer is not None:
        # --issuer describes a single-issuer configuration: it replaces an ISSUERS list.
        for name in (c.ISSUERS_ENV, c.ISSUERS_FILE_ENV):
            env.pop(name, None)
        env[c.ISSUER_ENV] = args.issuer
        overrides.append("--issuer")
    single = [flag for flag in ("audience", "jwks_uri", "jwks_file") if getattr(args, flag) is not None]
    if single and (env.get(c.ISSUERS_ENV) or env.get(c.ISSUERS_FILE_ENV)):
        flags = ", ".join("--" + flag.replace("_", "-") for flag in single)
        raise UsageError(
            f"{flags} set single-issuer variables, which an ISSUERS list ignores: change the entry with "
            "--set ISSUERS=..., or pass --issuer to explain against one issuer"
        )
    if args.audience is not None:
        env[c.AUDIENCE_ENV] = args.audience
        overrides.append("--audience")
    if args.jwks_uri is not None:
        for name in (c.JWKS_INLINE_ENV, c.JWKS_FILE_ENV, c.DISCOVERY_URL_ENV):
            env.pop(name, None)
        env[c.JWKS_URI_ENV] = args.jwks_uri
        overrides.append("--jwks-uri")
    if args.jwks_file is not None:
        for name in (c.JWKS_INLINE_ENV, c.JWKS_URI_ENV, c.DISCOVERY_URL_ENV):
            env.pop(name, None)
        env[c.JWKS_FILE_ENV] = str(Path(args.jwks_file).resolve())
        overrides.append("--jwks-file")
    for assignment in args.set:
        name, sep, value = assignment.partition("=")
        if not sep or not name:
            raise UsageError(f"--set {assignment!r} is not NAME=VALUE")
        if value:
            env[name] = value
        else:
            env.pop(name, None)
        overrides.append(f"--set {name}")
    if overrides:
        source += ", with " + ", ".join(overrides)
    return env, source


# ----- output -----------------------------------------------------------------------------------


def printable(text: str) -> str:
    """Escape control and formatting characters: a claim must not drive the terminal."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _cell(value: Any, name: str = "", now: float | None = None) -> str:
    moment = numeric_date({name: value}, name) if name in _TIME_CLAIMS else None
    if moment is not None and now is not None:
        text = f"{value}  {utc(moment)}, {relative(moment, now)}"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        text = ", ".join(value) if value else "[]"
    else:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    text = printable(text)
    if len(text) > _MAX_CELL:
        text = f"{text[:_MAX_CELL]}... (+{len(text) - _MAX_CELL} chars)"
    return text


def table(rows: Sequence[tuple[str, str]], indent: str = "  ") -> list[str]:
    if not rows:
        return [f"{indent}(none)"]
    width = max(len(name) for name, _ in rows)
    return [f"{indent}{name.ljust(width)}  {value}".rstrip() for name, value in rows]


def _fill(text: str, first: str, rest: str) -> list[str]:
    # URLs and ids stay whole: a line may run long rather than split an issuer in two.
    return textwrap.wrap(
        printable(text),
        width=_WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _wrap(label: str, text: str, indent: int) -> list[str]:
    prefix = " " * indent + f"{label:<7}"
    return _fill(text, prefix, " " * len(prefix)) or [prefix]


def _check_lines(check: Check, name_width: int) -> list[str]:
    mark = _MARKS[check.status]
    summary = f"[{check.reason}] {check.summary}" if check.reason else check.summary
    head = f"  {mark:<5} {check.name:<{name_width}}  "
    lines = _fill(summary, head, " " * len(head)) or [head.rstrip()]
    if check.cause:
        lines += _wrap("cause:", check.cause, len(head))
    if check.fix:
        lines += _wrap("fix:", check.fix, len(head))
    return lines


def render_claims(header: dict[str, Any] | None, claims: dict[str, Any] | None, now: float) -> list[str]:
    if header is None or claims is None:
        return ["Token", "  (cannot be decoded)"]
    lines = ["Header"]
    lines += table([(printable(k), _cell(v)) for k, v in header.items()])
    lines += ["", "Claims"]
    lines += table([(printable(k), _cell(v, k, now)) for k, v in claims.items()])
    lines.append("  (the signature is never shown)")
    return lines


def _setting(name: str, value: Any) -> str:
    if value is None:
        return "not set (any tenant the issuer setting admits)" if name == c.ALLOWED_TENANTS_ENV else "not set"
    if name == c.ALLOWED_TENANTS_ENV and value == ["*"]:
        return "* (every tenant, on purpose)"
    if isinstance(value, list):
        return printable(",".join(str(v) for v in value))
    return printable(str(value))


def render_configuration(configuration: dict[str, Any], source: str) -> list[str]:
    lines = [f"Configuration from {source}"]
    entries = configuration.get("issuers", [])
    for entry in entries:
        rows = [(name, _setting(name, value)) for name, value in entry.items() if name != "name"]
        if len(entries) > 1 or entry.get("name"):
            lines.append(f"  ISSUERS entry {printable(str(entry.get('name')))}")
            lines += table(rows, indent="    ")
        else:
            lines += table(rows)
    return lines


def _collapse_skips(checks: list[Check]) -> list[Check]:
    """Consecutive checks skipped for one reason become one row: ``header..principal``."""
    rows: list[Check] = []
    run: list[Check] = []
    for check in [*checks, None]:
        if check is not None and check.status is Status.SKIP and (not run or run[0].summary == check.summary):
            run.append(check)
            continue
        if len(run) > 2:
            rows.append(Check(f"{run[0].name}..{run[-1].name}", Status.SKIP, run[0].summary))
        else:
            rows += run
        run = []
        if check is not None and check.status is Status.SKIP:
            run = [check]
        elif check is not None:
            rows.append(check)
    return rows


def render_report(report: Report, source: str) -> str:
    lines = render_claims(report.header, report.claims, report.now)
    lines += ["", *render_configuration(report.configuration, source), ""]
    lines.append(f"Checks at {utc(report.now)} (unix {int(report.now)})")
    rows = _collapse_skips(report.checks)
    width = max(len(check.name) for check in rows)
    for check in rows:
        lines += _check_lines(check, width)
    decisive = report.decisive
    later = [
        check
        for check in report.checks
        if decisive is not None and check is not decisive and check.status in {Status.FAIL, Status.ERROR}
    ]
    if later:
        lines.append(
            f"  (the function stops at the first failure, {decisive.name if decisive else ''}; the later "
            "checks ran for information)"
        )
    lines.append("")
    if report.verdict is Verdict.ACCEPTED:
        verdict = (
            f"ACCEPTED: the function lets this token in as principalId {report.principal} (route rules, when "
            "configured, still apply per route)."
        )
    elif report.verdict is Verdict.REFUSED:
        verdict = (
            f"REFUSED, reason {report.reason}: the function answers 401 Unauthorized, and its log line says "
            f'"unauthorized: {report.reason}" with reason={report.reason}.'
        )
    else:
        verdict = (
            f"UNDECIDED, reason {report.reason}: the function answers 500 (nothing is cached; the client may retry)."
        )
    lines += _fill(verdict, "", "  ")
    return "\n".join(lines) + "\n"


# ----- commands ---------------------------------------------------------------------------------


def run_explain(args: argparse.Namespace) -> int:
    token = read_token(args.token, sys.stdin)
    now = parse_moment(args.now)
    env, source = explain_environment(args)
    try:
        settings = load_settings(env)
    except ConfigurationError as exc:
        decoded = decode_for_display(token)
        if args.json:
            header, claims = decoded if decoded is not None else (None, None)
            document = {
                "verdict": "configuration_error",
                "exit_code": EXIT_USAGE,
                "configuration_source": source,
                "error": {"variable": exc.variable, "problem": exc.problem, "fix": exc.fix},
                "header": header,
                "claims": claims,
            }
            print(json.dumps(document, indent=2))
        else:
            header, claims = decoded if decoded is not None else (None, None)
            print("\n".join(render_claims(header, claims, now if now is not None else time.time())))
            print(f"\nThe configuration from {source} is not usable, so no check ran:", file=sys.stderr)
            print(f"  {exc.variable}: {exc.problem}.\n  fix: {exc.fix}", file=sys.stderr)
        return EXIT_USAGE
    location = args.revocations or (settings.revocation.source if settings.revocation is not None else None)
    revocation = read_once(location, settings) if location else None
    report = explain(token, settings, now=now, revocation=revocation)
    report.configuration["source"] = source
    if args.json:
        print(report_json(report))
    else:
        sys.stdout.write(render_report(report, source))
    return report.exit_code


def run_dev_token(args: argparse.Namespace) -> int:
    from . import devtoken  # noqa: PLC0415 - pyjwt's encoder is loaded only to mint

    try:
        issuer = devtoken.load_dev_issuer(args.events, key_file=args.key, kid=args.kid)
        claims = dict(devtoken.parse_claim(item) for item in args.claim)
        lifetime = devtoken.parse_lifetime(args.lifetime)
    except devtoken.DevTokenError as exc:
        raise UsageError(str(exc)) from None
    try:
        token = devtoken.mint(
            issuer,
            audience=args.aud,
            subject=args.sub,
            scopes=args.scp,
            roles=args.roles,
            lifetime=lifetime,
            now=parse_moment(args.now),
            expired=args.expired,
            tenant_id=args.tid,
            nonce=args.nonce,
            claims=claims,
            algorithm=args.alg,
            iss=args.iss,
        )
    except devtoken.DevTokenError as exc:
        raise UsageError(str(exc)) from None
    print(token)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jwt-authorizer",
        description="Tools for the jwt-authorizer Lambda authorizer: explain a token, mint a development token.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ex = commands.add_parser(
        "explain",
        help="say, check by check, why the function accepts or refuses a token",
        description=(
            "Decode a token (header and claims; never the signature) and run every check of the authorizer "
            "with the function's configuration: the process environment, or --env-file, with flags on top. "
            "Exit code 0 accepted, 1 refused, 2 usage or configuration error, 3 undecided (key source down)."
        ),
    )
    ex.add_argument("token", metavar="TOKEN", help="the token ('Bearer ' is stripped), or - to read standard input")
    ex.add_argument("--env-file", type=Path, help="a SAM --env-vars file, e.g. events/env.json")
    ex.add_argument("--function", default=FUNCTION_BLOCK, help="the function block of --env-file (%(default)s)")
    ex.add_argument("--issuer", help="override ISSUER (comma-separated)")
    ex.add_argument("--audience", help="override AUDIENCE (comma-separated)")
    ex.add_argument("--jwks-uri", help="override the key source with a JWKS URI")
    ex.add_argument("--jwks-file", help="override the key source with a local JWKS file")
    ex.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="set any variable (NAME= unsets it)"
    )
    ex.add_argument("--now", help="evaluate at this moment: unix seconds or ISO 8601 (default: now)")
    ex.add_argument(
        "--revocations",
        metavar="LOCATION",
        help="check the revocation list at a path, s3://bucket/key or URL (default: the configured one, if any)",
    )
    ex.add_argument("--json", action="store_true", help="print the report as JSON")
    ex.set_defaults(handler=run_explain)

    dev = commands.add_parser(
        "dev-token",
        help="mint a token from the DEVELOPMENT-ONLY issuer in events/dev-issuer",
        description=(
            "Mint a token signed with events/dev-issuer/private-key.pem (public, DEVELOPMENT ONLY: never trust "
            "this issuer in a deployment). Defaults: issuer and audience of events/env.json, sub dev-user, "
            "lifetime 1 h."
        ),
    )
    dev.add_argument("--aud", help="audience (comma-separated for several)")
    dev.add_argument("--scp", help="delegated scopes, comma- or space-separated (scp claim)")
    dev.add_argument("--roles", help="app roles, comma-separated (roles claim)")
    dev.add_argument("--lifetime", default="1h", help="seconds, or 90s, 15m, 1h, 2d (default %(default)s)")
    dev.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help='any claim; VALUE is JSON when it parses (42, true, ["a"]), else a string; NAME= removes it',
    )
    dev.add_argument("--expired", action="store_true", help="a token that expired one hour ago")
    dev.add_argument("--tid", help="tenant id claim")
    dev.add_argument("--nonce", action="store_true", help="a nonce in the header, like a Microsoft Graph token")
    dev.add_argument("--sub", default="dev-user", help="subject (default %(default)s)")
    dev.add_argument("--iss", help="issuer (default: ISSUER of events/env.json)")
    dev.add_argument("--alg", help="signing algorithm (default: RS256 for RSA keys)")
    dev.add_argument("--key", type=Path, help="PEM private key (default: events/dev-issuer/private-key.pem)")
    dev.add_argument("--kid", help="key id (default: the key's kid in jwks.json next to it)")
    dev.add_argument("--now", help="mint as of this moment: unix seconds or ISO 8601")
    dev.add_argument("--events", type=Path, help="the events/ folder (default: found from the working directory)")
    dev.set_defaults(handler=run_dev_token)

    from .revoke_cli import add_parser as add_revoke  # noqa: PLC0415 - keeps the revoke command in its module

    add_revoke(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except UsageError as exc:
        print(f"jwt-authorizer {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # Piped into head or less and closed early: not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_USAGE
    return code
