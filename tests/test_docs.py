"""Every snippet of README.md and docs/ is tested, so the documentation cannot drift from the code.

Each fenced block carries an annotation, an HTML comment on the lines before it (invisible on the
site and on GitHub), and a block without one fails ``test_every_block_is_classified``:

    <!-- snippet: KIND [key=value ...] -->

Kinds, and what is checked:

- ``json``, ``yaml``: parsed.
- ``diagram``: a mermaid block with a known diagram type (mkdocs-material renders it).
- ``env``: ``NAME=value`` lines, loaded by the real ``jwt_authorizer.config.load_settings``.
- ``issuers``: an ``ISSUERS`` list, loaded the same way; ``rules``: a route rules document
  (``ROUTE_RULES``), loaded the same way. With ``expect=error`` (and an ``id``), loading must fail;
  a following ``error of=ID`` block is the exact message.
- ``policy``, ``decision-line`` (``example=NAME``): the answer and the log line of the real handler
  for one of ``EXAMPLES`` below (documented values ``…`` are left unchecked).
- ``cloudformation``: a fragment of a template's ``Resources``, wrapped in a minimal template
  (with the SAM transform when it uses ``AWS::Serverless::``) and linted with cfn-lint.
- ``shell``: every command is run in the project folder with this test's virtual environment
  (its ``bin`` first on ``PATH``, ``VENV`` set for make, ``.venv/`` read as it) and must exit 0.
  ``skip="reason"`` marks a block that cannot run here (deploys, AWS, containers): its commands are
  only syntax-checked with ``bash -n``; ``not-run="PREFIX" because="reason"`` does the same for
  the commands starting with PREFIX.
- ``session`` (``exit=N``, ``excerpt``): ``$ command`` lines, then its output: the command is run
  and its output compared exactly, or, with ``excerpt``, the parts between ``...`` lines must
  appear in that order.
- ``logs-insights``: a CloudWatch Logs Insights query made of known commands.
- ``bench-output``: a table quoted from ``make bench``: every row of ``scripts/bench.py`` is in it,
  and each "met"/"NOT met" agrees with its figure and target.
- ``revocation-list``: read by the real revocation list parser; with ``file=PATH``, that file's content.
- ``usage``: a command synopsis; each option it shows is in that command's ``--help``.

The kinds that start processes (``shell``, ``session``, ``usage``) are run by
``tests/test_docs_commands.py``.

Tables checked against the code are marked ``<!-- table: NAME -->`` (``variables``, ``reasons``,
``issuer-keys``, ``route-outcomes``, ``bench-headline``).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from jwt_authorizer import constants
from jwt_authorizer.config import load_settings
from jwt_authorizer.exceptions import ConfigurationError, Reason
from jwt_authorizer.revocation import loads as load_revocation_list
from jwt_authorizer.rules import parse_rules

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
README_LIMIT = 15 * 1024
VENV = Path(sys.prefix)
PLACEHOLDER = "…"

MARKER = re.compile(r"^\s*<!--\s*(snippet|table):\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w-]*)")


# ----- reading the pages ---------------------------------------------------------------------------


@dataclass
class Block:
    page: Path
    line: int
    language: str
    text: str
    kind: str | None = None
    options: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


@dataclass
class Table:
    page: Path
    name: str
    options: dict[str, str]
    rows: list[list[str]]


def _annotation(text: str) -> tuple[str, dict[str, str]]:
    words = shlex.split(text)
    options = {}
    for word in words[1:]:
        key, _, value = word.partition("=")
        options[key] = value
    return words[0], options


def read_page(page: Path) -> tuple[list[Block], list[Table]]:
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    tables: list[Table] = []
    pending: tuple[str, str] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        marker = MARKER.match(line)
        fence = FENCE.match(line)
        if marker:
            assert pending is None, f"{page.name}:{i + 1}: two annotations in a row"
            pending = (marker.group(1), marker.group(2))
        elif fence:
            indent, ticks, language = fence.groups()
            body: list[str] = []
            i += 1
            while not lines[i].strip().startswith(ticks[0] * len(ticks)):
                body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i].lstrip())
                i += 1
            block = Block(page, i - len(body), language, "\n".join(body) + "\n")
            if pending is not None:
                assert pending[0] == "snippet", f"{block.where}: a table annotation before a code block"
                block.kind, block.options = _annotation(pending[1])
                pending = None
            blocks.append(block)
        elif pending is not None and line.strip():
            assert pending[0] == "table", f"{page.name}:{i + 1}: a snippet annotation not followed by a code block"
            name, options = _annotation(pending[1])
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                cells = [cell.strip() for cell in lines[i].strip().strip("|").split("|")]
                if not all(set(cell) <= set("-: ") for cell in cells):
                    rows.append(cells)
                i += 1
            assert rows, f"{page.name}: table {name} has no rows"
            tables.append(Table(page, name, options, rows[1:]))
            pending = None
            continue
        i += 1
    assert pending is None, f"{page.name}: an annotation at the end of the page"
    return blocks, tables


BLOCKS = [block for page in PAGES for block in read_page(page)[0]]
TABLES = {table.name: table for page in PAGES for table in read_page(page)[1]}


def blocks_of(kind: str) -> list[Block]:
    return [block for block in BLOCKS if block.kind == kind]


def block_id(block: Block) -> str:
    return f"{block.where}:{block.kind}"


def by_id(page: Path, name: str) -> Block:
    (found,) = [b for b in BLOCKS if b.page == page and b.options.get("id") == name]
    return found


def code(cell: str) -> list[str]:
    """The `code` spans of a table cell."""
    return re.findall(r"`([^`]+)`", cell)


# ----- configuration ---------------------------------------------------------------------------------

BASE = {"ISSUER": "https://issuer.example", "AUDIENCE": "api://orders-api"}


def env_lines(text: str) -> dict[str, str]:
    env = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"not NAME=value: {line!r}"
            env[name.strip()] = value
    return env


def configuration_of(block: Block) -> dict[str, str]:
    if block.kind == "env":
        return env_lines(block.text)
    if block.kind == "issuers":
        assert isinstance(json.loads(block.text), list)
        return {"ISSUERS": block.text}
    if block.kind == "rules":
        assert isinstance(json.loads(block.text), dict)
        return {**BASE, "ROUTE_RULES": block.text}
    raise AssertionError(f"{block.where}: {block.kind} is not a configuration")


def load_outcome(block: Block) -> str | None:
    """The ConfigurationError message of a configuration block, or None when it loads."""
    try:
        load_settings(configuration_of(block))
    except ConfigurationError as exc:
        return str(exc)
    return None


def check_configuration(block: Block) -> None:
    message = load_outcome(block)
    if block.options.get("expect") == "error":
        assert message is not None, f"{block.where}: documented as refused, but it loads"
        assert "id" in block.options, f"{block.where}: name the refused example (id=...) for its error block"
    else:
        assert message is None, f"{block.where}: {message}"


def check_error(block: Block) -> None:
    source = by_id(block.page, block.options["of"])
    assert source.options.get("expect") == "error", source.where
    assert load_outcome(source) == block.text.strip()


# ----- the real handler on the worked example -------------------------------------------------------

ORDERS_RULES = ROOT / "examples" / "orders-rules.json"
ARN = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/"
EXAMPLES: dict[str, tuple[dict[str, Any], str]] = {
    "reader-get-order": ({"sub": "reader-1", "scp": "orders.read"}, "GET/orders/42"),
    "reader-delete-order": ({"sub": "reader-1", "scp": "orders.read"}, "DELETE/orders/42"),
}


@dataclass
class HandlerRun:
    answer: dict[str, Any]
    line: dict[str, Any]


def run_example(name: str, capsys: pytest.CaptureFixture[str]) -> HandlerRun:
    from appload import cold_start
    from support import rsa_pair

    claims, route = EXAMPLES[name]
    key = rsa_pair("docs-key", slot=0)
    module = cold_start(
        {
            **BASE,
            "JWKS": json.dumps({"keys": [key.jwk(alg="RS256")]}),
            "JWKS_PREFETCH": "false",
            "ROUTE_RULES_FILE": str(ORDERS_RULES),
        }
    )
    now = int(time.time())
    token = key.sign({"iss": BASE["ISSUER"], "aud": BASE["AUDIENCE"], "iat": now, "exp": now + 600, **claims})

    class Context:
        function_name = "jwt-authorizer"
        memory_limit_in_mb = 256
        invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:jwt-authorizer"
        aws_request_id = "docs"

    capsys.readouterr()
    event = {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": ARN + route}
    answer = module.lambda_handler(event, Context())
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (line,) = [line for line in lines if "outcome" in line]
    return HandlerRun(answer, line)


def assert_documented(documented: Any, actual: Any, where: str) -> None:
    """``actual`` has every documented value; ``…`` stands for a value left out."""
    if documented == PLACEHOLDER:
        return
    if isinstance(documented, dict):
        assert isinstance(actual, dict), where
        for key, value in documented.items():
            if key != PLACEHOLDER:
                assert key in actual, f"{where}: {key} is not in the real answer"
                assert_documented(value, actual[key], f"{where}.{key}")
    else:
        assert documented == actual, where


# ----- CloudFormation ----------------------------------------------------------------------------------

# What the fragments refer to without defining it: the API (or resource) they attach to.
STUBS: dict[str, dict[str, Any]] = {
    "OrdersApi": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "orders"}},
    "OrderResource": {
        "Type": "AWS::ApiGateway::Resource",
        "Properties": {"RestApiId": {"Ref": "OrdersApi"}, "ParentId": "abc123", "PathPart": "orders"},
    },
    "OrdersHttpApi": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"Name": "orders", "ProtocolType": "HTTP"}},
    "OrdersIntegration": {
        "Type": "AWS::ApiGatewayV2::Integration",
        "Properties": {
            "ApiId": {"Ref": "OrdersHttpApi"},
            "IntegrationType": "HTTP_PROXY",
            "IntegrationMethod": "ANY",
            "IntegrationUri": "https://orders.example/",
            "PayloadFormatVersion": "1.0",
        },
    },
    "ChatApi": {
        "Type": "AWS::ApiGatewayV2::Api",
        "Properties": {"Name": "chat", "ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.action"},
    },
    "ConnectIntegration": {
        "Type": "AWS::ApiGatewayV2::Integration",
        "Properties": {"ApiId": {"Ref": "ChatApi"}, "IntegrationType": "MOCK"},
    },
}


def lint_fragment(block: Block) -> None:
    import cfnlint.api
    from cfnlint.decode import decode_str

    resources, errors = decode_str(block.text)
    assert not errors, f"{block.where}: {errors}"
    assert isinstance(resources, dict) and resources, f"{block.where}: not a mapping of resources"
    names = set(re.findall(r"!Ref (\w+)", block.text)) | set(re.findall(r"\$\{(\w+)\}", block.text))
    missing = {n for n in names if n not in resources and not n.startswith("AWS") and n != "Fn"}
    unknown = missing - set(STUBS)
    assert not unknown, f"{block.where}: refers to {sorted(unknown)}: add a stub to STUBS"
    stubs = {name: STUBS[name] for name in STUBS if name in missing}
    stubs.update({n: STUBS[n] for s in list(stubs.values()) for n in re.findall(r"'Ref': '(\w+)'", str(s))})
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {**stubs, **dict(resources)}}
    if "AWS::Serverless::" in block.text:
        template["Transform"] = "AWS::Serverless-2016-10-31"
    matches = cfnlint.api.lint(json.dumps(template, default=str), regions=["eu-west-1"])
    assert [str(m) for m in matches] == [], block.where


# ----- shell ---------------------------------------------------------------------------------------------


def commands(text: str) -> Iterator[str]:
    """The logical commands of a shell block: lines joined across trailing backslashes."""
    current = ""
    for line in text.splitlines():
        if current:
            current += "\n" + line
        elif line.strip() and not line.lstrip().startswith("#"):
            current = line
        if current and not current.endswith("\\"):
            yield current
            current = ""
    assert not current, f"a continued line ends the block: {current!r}"


def shell_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "PYTEST"))}
    env.update({"PATH": f"{VENV / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}", "VENV": str(VENV)})
    env.pop("VIRTUAL_ENV", None)
    return env


def localize(command: str) -> str:
    return re.sub(r"(?<![\w/.])\.venv/", f"{VENV}/", command)


def bash(command: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", localize(command)],
        cwd=ROOT,
        env=shell_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def check_syntax(command: str, where: str) -> None:
    run = subprocess.run(["bash", "-n", "-c", command], capture_output=True, text=True)
    assert run.returncode == 0, f"{where}: {run.stderr}"


def check_shell(block: Block) -> None:
    skip = block.options.get("skip")
    not_run = block.options.get("not-run")
    assert skip != "", f"{block.where}: skip needs a reason"
    assert not not_run or block.options.get("because"), f"{block.where}: not-run needs because=..."
    assert block.language in {"sh", "bash"}, block.where
    for command in commands(block.text):
        check_syntax(command, block.where)
        assert not re.search(r"<[A-Za-z][\w-]*>", command), f"{block.where}: a <placeholder>: use a shell variable"
        if skip is not None or (not_run and command.startswith(not_run)):
            continue
        run = bash(command)
        assert run.returncode == 0, f"{block.where}: {command}\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"


def check_session(block: Block) -> None:
    lines = block.text.rstrip("\n").splitlines()
    assert lines[0].startswith("$ "), f"{block.where}: a session starts with $ command"
    command = [lines[0][2:]]
    while command[-1].endswith("\\"):
        command.append(lines[len(command)])
    expected = lines[len(command) :]
    run = bash("\n".join(command))
    assert run.returncode == int(block.options.get("exit", "0")), f"{block.where}: {run.stderr[-2000:]}"
    actual = [line.rstrip() for line in run.stdout.rstrip("\n").splitlines()]
    if "excerpt" not in block.options:
        assert [line.rstrip() for line in expected] == actual, block.where
        return
    chunks: list[list[str]] = [[]]
    for line in expected:
        if line.strip() == "...":
            chunks.append([])
        else:
            chunks[-1].append(line.rstrip())
    position = 0
    for chunk in filter(None, chunks):
        starts = [i for i in range(position, len(actual) - len(chunk) + 1) if actual[i : i + len(chunk)] == chunk]
        assert starts, f"{block.where}: not in the real output, in this order:\n" + "\n".join(chunk)
        position = starts[0] + len(chunk)


# ----- the other kinds -------------------------------------------------------------------------------------

MERMAID_TYPES = {"flowchart", "graph", "sequenceDiagram", "stateDiagram-v2", "classDiagram"}
INSIGHTS_COMMANDS = {"fields", "filter", "stats", "sort", "limit", "display", "parse", "dedup"}


def check_diagram(block: Block) -> None:
    assert block.language == "mermaid", block.where
    assert block.text.split()[0] in MERMAID_TYPES, block.where


def check_insights(block: Block) -> None:
    for part in re.split(r"\n\s*\|", block.text.strip()):
        assert part.split()[0] in INSIGHTS_COMMANDS, f"{block.where}: {part.split()[0]}"


def check_usage(block: Block) -> None:
    synopses: list[str] = []
    for line in block.text.splitlines():
        if line.startswith(" ") and synopses:
            synopses[-1] += line
        elif line.strip():
            synopses.append(line)
    for line in synopses:
        words = line.split()
        assert words[0] == "jwt-authorizer", block.where
        command = [w for w in words[1:3] if re.fullmatch(r"[a-z][a-z-]*", w)]
        run = bash(shlex.join(["jwt-authorizer", *command, "--help"]))
        assert run.returncode == 0, run.stderr
        for option in re.findall(r"--[a-z][a-z-]*", line):
            assert option in run.stdout, f"{block.where}: {' '.join(command)} has no {option}"


def check_bench_output(block: Block) -> None:
    """A table quoted from ``make bench``: every row is there, and each verdict fits its figure."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import bench
    finally:
        sys.path.pop(0)
    lines = block.text.splitlines()
    for _, label, target in bench.ROWS:
        row = next((line for line in lines if line.startswith(label)), None)
        assert row is not None, f"{block.where}: no row {label!r}"
        median = float(row[len(label) :].split()[0])
        if target:
            assert row.rstrip().endswith(f"{target}   {bench._met(median, target)}"), f"{block.where}: {row!r}"
    for pattern, limit in (
        (r"child CPU .* ratio ([\d.]+) +\(target <= 1.10: (met|NOT met)\)", 1.10),
        (r"key source 150 ms away: \+(\d+) ms .*\(target <= 20 ms: (met|NOT met)\)", 20.0),
    ):
        found = re.search(pattern, block.text)
        assert found is not None, f"{block.where}: no line for {pattern!r}"
        assert found[2] == ("met" if float(found[1]) <= limit else "NOT met"), f"{block.where}: {found[0]!r}"


def check_revocation_list(block: Block) -> None:
    load_revocation_list(block.text.encode())
    if "file" in block.options:
        assert json.loads(block.text) == json.loads((ROOT / block.options["file"]).read_text(encoding="utf-8"))


def check_policy(block: Block, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_example(block.options["example"], capsys)
    documented = json.loads(block.text)
    assert documented["policyDocument"] == run.answer["policyDocument"], block.where
    assert_documented(documented, run.answer, block.where)


def check_decision_line(block: Block, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_example(block.options["example"], capsys)
    assert_documented(json.loads(block.text), run.line, block.where)


CHECKS: dict[str, Callable[[Block], None]] = {
    "json": lambda b: json.loads(b.text) and None,
    "yaml": lambda b: yaml.safe_load(b.text) and None,
    "diagram": check_diagram,
    "env": check_configuration,
    "issuers": check_configuration,
    "rules": check_configuration,
    "error": check_error,
    "cloudformation": lint_fragment,
    "logs-insights": check_insights,
    "revocation-list": check_revocation_list,
    "bench-output": check_bench_output,
}
HANDLER_CHECKS = {"policy": check_policy, "decision-line": check_decision_line}
# Run as processes, by tests/test_docs_commands.py (make test's workers take whole files: two files
# share the work).
COMMAND_CHECKS: dict[str, Callable[[Block], None]] = {
    "shell": check_shell,
    "session": check_session,
    "usage": check_usage,
}


# ----- the tests -------------------------------------------------------------------------------------------


def test_every_block_is_classified() -> None:
    kinds = {*CHECKS, *HANDLER_CHECKS, *COMMAND_CHECKS}
    unknown = [f"{b.where} ({b.kind or 'no annotation'})" for b in BLOCKS if b.kind not in kinds]
    assert unknown == [], "annotate each code block with <!-- snippet: KIND --> (see this module's docstring)"
    assert len(BLOCKS) > 50


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.kind in CHECKS], ids=block_id)
def test_snippet(block: Block) -> None:
    CHECKS[str(block.kind)](block)


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.kind in HANDLER_CHECKS], ids=block_id)
def test_handler_snippet(block: Block, capsys: pytest.CaptureFixture[str]) -> None:
    HANDLER_CHECKS[str(block.kind)](block, capsys)


def test_every_refused_example_shows_its_error() -> None:
    refused = {(b.page, b.options["id"]) for b in BLOCKS if b.options.get("expect") == "error"}
    shown = {(b.page, b.options["of"]) for b in blocks_of("error")}
    assert refused == shown


def test_the_readme_fits_on_a_few_screens() -> None:
    assert len(README.read_bytes()) <= README_LIMIT


def test_the_readme_attaches_with_the_attaching_page_snippets() -> None:
    """The README repeats two SAM snippets of docs/attaching.md: they must stay the same."""
    attaching = [b.text for b in blocks_of("cloudformation") if b.page.name == "attaching.md"]
    in_readme = [b.text for b in blocks_of("cloudformation") if b.page == README]
    assert len(in_readme) == 2 and all(text in attaching for text in in_readme)


def test_the_readme_links_every_page_of_the_site() -> None:
    readme = README.read_text(encoding="utf-8")
    assert [p.name for p in sorted(DOCS.glob("*.md")) if f"(docs/{p.name})" not in readme] == []


def test_every_variable_is_in_the_configuration_table() -> None:
    """constants.py, template.yaml and docs/configuration.md cannot drift apart."""
    from cfnlint.decode import decode_str

    table = TABLES["variables"]
    documented = {code(row[0])[0]: row for row in table.rows}
    names = {value for key, value in vars(constants).items() if key.endswith("_ENV")}
    powertools_only = {"POWERTOOLS_LOG_LEVEL"}  # read by Powertools itself, still a template parameter
    assert sorted(set(documented) ^ (names | powertools_only)) == []
    template, errors = decode_str((ROOT / "template.yaml").read_text(encoding="utf-8"))
    assert not errors
    variables = template["Resources"]["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
    for name, row in documented.items():
        refs = re.findall(r"'Ref': '(\w+)'", str(variables[name]))
        assert [r for r in refs if r in template["Parameters"]][:1] == code(row[1]), name


def test_the_readme_names_variables_parameters_and_reasons_that_exist() -> None:
    """The README's short table agrees with the full one, and every reason code it names is real."""
    parameters = {code(row[0])[0]: code(row[1]) for row in TABLES["variables"].rows}
    rows = TABLES["readme-variables"].rows
    assert len(rows) >= 5
    for cell, _ in rows:
        pair = re.fullmatch(r"`(\w+)` \(`(\w+)`\)", cell)
        assert pair is not None, cell
        assert parameters.get(pair[1]) == [pair[2]], cell
    section = README.read_text(encoding="utf-8").split("Every refusal has a reason code")[1].split("\n## ")[0]
    named = set(re.findall(r"`([a-z_]+)`", section))
    assert named and named <= {str(r) for r in Reason} | {"route_reason", "method_not_supported"}, named


def test_setting_a_variable_to_its_documented_default_changes_nothing() -> None:
    base = {**BASE, "JWKS_URI": "https://issuer.example/keys", "REVOCATION_URL": "https://issuer.example/revoked.json"}
    reference = load_settings(base)
    tested = 0
    for row in TABLES["variables"].rows:
        name, default = code(row[0])[0], row[2]
        if default.startswith("`"):
            assert load_settings({**base, name: code(default)[0]}) == reference, name
            tested += 1
    assert tested >= 25


def test_every_reason_code_is_in_the_reasons_table() -> None:
    documented = [code(row[0])[0] for row in TABLES["reasons"].rows]
    logged = {str(r) for r in Reason} | {"granted", "internal_error", "configuration_error"}
    assert sorted(documented) == sorted(logged)
    outcomes = {code(row[0])[0]: row[1] for row in TABLES["reasons"].rows}
    assert outcomes["route_not_permitted"] == "403" and outcomes["granted"] == "allow"
    assert {r for r, o in outcomes.items() if o == "500"} == {
        "key_source_unavailable",
        "revocation_unavailable",
        "internal_error",
        "configuration_error",
    }


def test_the_issuer_entry_keys_table() -> None:
    from jwt_authorizer import issuers

    mapping = {**issuers._IDENTITY_KEYS, **issuers._PRESENTATION_KEYS}
    documented: dict[str, str | None] = {}
    for row in TABLES["issuer-keys"].rows:
        keys, variables = code(row[0]), code(row[1])
        for i, key in enumerate(keys):
            documented[key] = variables[i] if variables else None
    assert set(documented) == issuers._KNOWN_KEYS
    assert {k: v for k, v in documented.items() if v is not None} == mapping


# The routes the worked example's table is judged on: every rule's route and the near misses.
PROBES = [
    *[(verb, path) for verb in ("GET", "POST", "PUT", "PATCH", "DELETE") for path in ("/orders", "/orders/42")],
    ("POST", "/orders/42/fulfil"),
    ("GET", "/orders/42/fulfil"),
    ("GET", "/orders/42/items"),
    ("GET", "/orders/"),
    ("GET", "/health"),
    ("POST", "/health"),
    ("GET", "/"),
    *[(verb, "/admin/reports/2026") for verb in ("GET", "POST", "DELETE", "OPTIONS")],
    ("GET", "/x/admin/y"),
    ("PROPFIND", "/orders"),
]


def concrete(route: str) -> set[tuple[str, str]]:
    method, pattern = route.split()
    path = re.sub(r"\{proxy\+\}", "reports/2026", re.sub(r"\{\w+\}", "42", pattern))
    verbs = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] if method == "ANY" else [method]
    return {(verb, path) for verb in verbs}


def test_the_readme_quotes_the_performance_page_table() -> None:
    """The README's figures are the ones of the table docs/performance.md quotes from one run."""
    quoted = "\n".join(b.text for b in blocks_of("bench-output"))
    rows = TABLES["bench-headline"].rows
    assert len(rows) >= 4
    for label, cpu, instructions in rows:
        row = next((line for line in quoted.splitlines() if line.startswith(label)), None)
        assert row is not None, f"README: {label!r} is not in docs/performance.md's table"
        figures = row[len(label) :].split()
        assert figures[0] == cpu, f"README: {label}: CPU {cpu}, the table says {figures[0]}"
        if instructions != "—":
            assert figures[2] == instructions, f"README: {label}: instructions {instructions}, table {figures[2]}"
    cold = re.search(r"ratio ([\d.]+) ", quoted)
    assert cold is not None and f"A cold start costs {cold[1]}\u00d7" in README.read_text(encoding="utf-8")


def test_the_worked_example_table_is_what_the_rules_decide() -> None:
    table = TABLES["route-outcomes"]
    rules = parse_rules(json.loads((ROOT / table.options["rules"]).read_text(encoding="utf-8")))
    assert len(table.rows) >= 5
    for caller, claims_cell, may_call in table.rows:
        claims = json.loads(code(claims_cell)[0])
        allowed = set().union(*(concrete(route) for route in code(may_call)))
        grant = rules.grant_for(claims)
        wrong = [f"{m} {p}" for m, p in PROBES if grant.permits(m, p) != ((m, p) in allowed)]
        assert wrong == [], f"{caller}: the table is wrong for {wrong}"
