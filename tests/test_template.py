"""template.yaml rendered to CloudFormation offline, and checked against what the handler emits.

The SAM template is transformed by aws-sam-translator (the library behind ``sam validate`` and
CloudFormation's own transform), with no AWS account or network. Its intrinsic functions are then
evaluated for one stack the way CloudFormation would. The function's environment comes from that
rendering too: the handler is cold-started with it against the loopback identity provider, real
tokens and real API Gateway events go through it, and every alarm, dashboard widget and saved query
must name metrics, dimensions (with their values) and log fields that this run really wrote.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import json
import re
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.decode import decode_str
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from appload import cold_start
from support import (
    IdentityProvider,
    KeyPair,
    LambdaContext,
    claims,
    http_v2_event,
    preserved_environ,
    rest_request_event,
    rest_token_event,
    rsa_pair,
)

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
STACK = "orders-auth-prod"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
PSEUDO = {
    "AWS::StackName": STACK,
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}
MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}
RULES = {
    "rules": [
        {"method": "GET", "path": "/orders/{id}", "require": {"scope": "orders.read"}},
        {"method": "DELETE", "path": "/orders/{id}", "require": {"role": "Orders.Admin"}},
    ]
}
NO_VALUE = object()


# ----- rendering and evaluating the template ------------------------------------------------------


def sam_template() -> dict[str, Any]:
    document, problems = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert not problems, problems
    plain: dict[str, Any] = json.loads(json.dumps(document))
    for resource in plain["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            # What `sam package` does: the local CodeUri becomes an S3 location.
            resource["Properties"]["CodeUri"] = "s3://artifacts-bucket/code.zip"
    return plain


def render(**parameters: str) -> dict[str, Any]:
    """The CloudFormation template SAM's transform makes of template.yaml with these parameters."""
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    rendered: dict[str, Any] = translator.translate(
        sam_template(),
        parameter_values={**parameters, **PSEUDO},
        get_managed_policy_map=lambda: MANAGED_POLICIES,
    )
    return rendered


def deploy(**parameters: str) -> Stack:
    """The stack CloudFormation would create with these parameters (a configured issuer by default)."""
    values = {"Issuer": "https://issuer.example", "Audience": "api://x", **parameters}
    return Stack(render(**values), **values)


class Stack:
    """One deployment of a rendered template: parameters, conditions and physical names resolved."""

    def __init__(self, template: dict[str, Any], **parameters: str) -> None:
        self.template = template
        defaults = {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}
        self.values: dict[str, str] = {**defaults, **parameters, **PSEUDO}
        self.conditions: dict[str, bool] = {}
        for name in template.get("Conditions", {}):
            self.condition(name)
        self.resources = {
            name: resource
            for name, resource in template["Resources"].items()
            if "Condition" not in resource or self.condition(resource["Condition"])
        }
        self.physical: dict[str, str] = {}
        for name, resource in self.resources.items():
            kind = resource["Type"]
            if kind == "AWS::Lambda::Function":
                self.physical[name] = f"{STACK}-{name}-1A2B3C4D5E6F"
        for name, resource in self.resources.items():
            kind = resource["Type"]
            if kind == "AWS::Lambda::Alias":
                function = self.resolve(resource["Properties"]["FunctionName"])
                alias = resource["Properties"]["Name"]
                self.physical[name] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}:{alias}"
            elif kind == "AWS::Logs::LogGroup":
                self.physical[name] = self.resolve(resource["Properties"]["LogGroupName"])
            elif name not in self.physical:
                self.physical[name] = f"{STACK}-{name}-0F9E8D7C"

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = self.truth(self.template["Conditions"][name])
        return self.conditions[name]

    def truth(self, node: dict[str, Any]) -> bool:
        ((function, argument),) = node.items()
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::Equals":
            left, right = (self.resolve(a) for a in argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not self.truth(argument[0])
        if function == "Fn::And":
            return all(self.truth(a) for a in argument)
        if function == "Fn::Or":
            return any(self.truth(a) for a in argument)
        raise AssertionError(f"unknown condition function {function}")

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.resolve(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, argument),) = node.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Fn::If":
                name, when_true, when_false = argument
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::Sub":
                return self.sub(argument)
            if key == "Fn::Join":
                separator, items = argument
                return separator.join(self.resolve(items))
            if key == "Fn::GetAtt":
                logical, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return f"{self.physical[logical]}.{attribute}"
        out = {}
        for key, value in node.items():
            resolved = self.resolve(value)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.values:
            return self.values[name]
        return self.physical[name]

    def sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        names = {k: self.resolve(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in names:
                return str(names[name])
            if "." in name:
                logical, attribute = name.split(".", 1)
                return f"{self.physical[logical]}.{attribute}"
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: self.resolve(r) for name, r in self.resources.items() if r["Type"] == kind}

    @property
    def function_name(self) -> str:
        return self.physical["AuthorizerFunction"]

    @property
    def environment(self) -> dict[str, str]:
        function = self.resolve(self.resources["AuthorizerFunction"])
        variables: dict[str, str] = function["Properties"]["Environment"]["Variables"]
        assert all(isinstance(v, str) for v in variables.values()), variables
        return variables


# ----- what a real run of the handler writes --------------------------------------------------------


class Emitted:
    """The log lines of a handler run, and the metrics CloudWatch would extract from them (EMF)."""

    def __init__(self, text: str) -> None:
        self.lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        self.metrics: set[tuple[str, str, frozenset[tuple[str, str]]]] = set()
        for line in self.lines:
            for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
                for dimension_set in directive["Dimensions"]:
                    dimensions = frozenset((name, line[name]) for name in dimension_set)
                    for metric in directive["Metrics"]:
                        self.metrics.add((directive["Namespace"], metric["Name"], dimensions))

    def has_metric(self, namespace: str, name: str, dimensions: dict[str, str]) -> bool:
        return (namespace, name, frozenset(dimensions.items())) in self.metrics

    def fields(self) -> set[str]:
        return {name for line in self.lines for name in line}

    def has_value(self, field: str, value: str) -> bool:
        return any(line.get(field) == value for line in self.lines)


@contextlib.contextmanager
def identity_provider(signer: KeyPair) -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    provider.publish(signer)
    try:
        yield provider
    finally:
        provider.close()


def run_handler(stack_parameters: dict[str, str]) -> tuple[Stack, Emitted]:
    """Deploy (render) the stack for the loopback issuer, cold-start the function from its rendered
    environment, and send it every kind of decision; then a stack whose key source is down, and one
    whose configuration is refused at cold start."""
    signer = rsa_pair("key-1", slot=0)
    stranger = rsa_pair("key-stranger", slot=1)
    out = io.StringIO()
    with identity_provider(signer) as idp, preserved_environ(), contextlib.redirect_stdout(out):
        base = {"Issuer": idp.issuer, "Audience": "api://test", "RouteRules": json.dumps(RULES), **stack_parameters}
        stack = Stack(render(**base), **base)
        context = LambdaContext(
            function_name=stack.function_name, invoked_function_arn=stack.physical["AuthorizerFunctionAliaslive"]
        )
        module = cold_start(stack.environment)
        reader = signer.sign(claims(idp.issuer, scp="orders.read", azp="client-app-1", tid="tenant-1"))
        module.lambda_handler(rest_token_event(reader), context)  # allow
        module.lambda_handler(rest_request_event({"Authorization": f"Bearer {reader}"}), context)  # allow
        module.lambda_handler(http_v2_event(reader), context)  # allow, payload 2.0
        denied = rest_request_event({"Authorization": f"Bearer {reader}"}, method="DELETE")
        module.lambda_handler(denied, context)  # deny: route_not_permitted
        refused = [
            signer.sign(claims(idp.issuer, exp=int(time.time()) - 3 * 86400, azp="client-app-2")),  # expired
            signer.sign(claims(idp.issuer, audience="api://other", azp="client-app-2")),  # wrong_audience
            stranger.sign(claims(idp.issuer, azp="client-app-3")),  # unknown_key: refetch, penalty
        ]
        for token in refused:
            with pytest.raises(module.Unauthorized):
                module.lambda_handler(rest_request_event({"Authorization": f"Bearer {token}"}), context)

        down = {**base, "JwksUri": f"{idp.base}/no-keys-here"}
        module = cold_start(Stack(render(**down), **down).environment)
        with pytest.raises(module.AuthorizerUnavailable):
            module.lambda_handler(rest_request_event({"Authorization": f"Bearer {reader}"}), context)

        refused_configuration = {**base, "AllowedAlgorithms": "HS256"}
        from jwt_authorizer.exceptions import ConfigurationError

        with pytest.raises(ConfigurationError):
            cold_start(Stack(render(**refused_configuration), **refused_configuration).environment)
    return stack, Emitted(out.getvalue())


@pytest.fixture(scope="module")
def deployed() -> tuple[Stack, Emitted]:
    return run_handler({"CreateDashboard": "true", "CreateExampleApi": "true"})


# ----- Logs Insights queries, read the way Logs Insights reads them ---------------------------------

_QUERY_WORDS = {
    "fields", "filter", "stats", "sort", "limit", "by", "as", "and", "or", "not", "in", "like",
    "desc", "asc", "count", "count_distinct", "display", "dedup",
}  # fmt: skip


def query_fields(query: str) -> set[str]:
    """The log fields a query reads (not @-fields, functions, aliases or literals)."""
    text = re.sub(r"^SOURCE\s+'[^']*'\s*\|", "", query.strip())
    text = re.sub(r'"[^"]*"', '""', text)
    aliases = set(re.findall(r"\bas\s+([A-Za-z_]\w*)", text))
    names = set(re.findall(r"(?<![@\w.])([A-Za-z_]\w*)", text))
    return names - _QUERY_WORDS - aliases


def query_comparisons(query: str) -> list[tuple[str, str]]:
    return re.findall(r"(\w+)\s*=\s*\"([^\"]*)\"", query)


def check_query(query: str, emitted: Emitted) -> None:
    missing = query_fields(query) - emitted.fields()
    assert not missing, f"the query reads fields no line has: {sorted(missing)}\n{query}"
    for field, value in query_comparisons(query):
        if value.startswith("PASTE-"):
            continue  # the operator's placeholder
        assert emitted.has_value(field, value), f"no line has {field}={value!r}"


# ----- the checks ------------------------------------------------------------------------------------


def namespace_and_service(stack: Stack) -> tuple[str, str]:
    env = stack.environment
    return env["POWERTOOLS_METRICS_NAMESPACE"], env["POWERTOOLS_SERVICE_NAME"]


def check_metric(stack: Stack, emitted: Emitted, namespace: str, name: str, dimensions: dict[str, str]) -> None:
    if namespace == "AWS/Lambda":
        # Published by Lambda itself for the function: its name is the only dimension used here.
        assert name in {"Duration", "Throttles", "Errors", "Invocations", "ConcurrentExecutions"}, name
        assert dimensions == {"FunctionName": stack.function_name}, dimensions
        return
    assert emitted.has_metric(namespace, name, dimensions), (
        f"the handler never published {name} {dimensions} in {namespace}; it published "
        f"{sorted(json.dumps(dict(m[2]), sort_keys=True) for m in emitted.metrics if m[1] == name)}"
    )


def test_every_alarm_watches_a_metric_the_function_publishes(deployed: tuple[Stack, Emitted]) -> None:
    stack, emitted = deployed
    alarms = stack.of_type("AWS::CloudWatch::Alarm")
    assert set(alarms) == {
        "ErrorsAlarm",
        "KeySourceAlarm",
        "ThrottlesAlarm",
        "DurationAlarm",
        "ConfigurationErrorsAlarm",
    }
    for name, alarm in alarms.items():
        properties = alarm["Properties"]
        dimensions = {d["Name"]: d["Value"] for d in properties["Dimensions"]}
        check_metric(stack, emitted, properties["Namespace"], properties["MetricName"], dimensions)
        assert properties["TreatMissingData"] == "notBreaching", name  # no traffic is not an outage
        assert "AlarmActions" not in properties, name  # no topic given


def test_the_errors_alarm_needs_no_metric_math(deployed: tuple[Stack, Emitted]) -> None:
    stack, emitted = deployed
    namespace, service = namespace_and_service(stack)
    alarm = stack.of_type("AWS::CloudWatch::Alarm")["ErrorsAlarm"]["Properties"]
    assert "Metrics" not in alarm  # one metric, no expression
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"service": service, "outcome": "error"}
    assert namespace == f"JwtAuthorizer/{STACK}" and service == STACK  # derived from the stack name
    errors = [line for line in emitted.lines if line.get("outcome") == "error"]
    assert [line["reason"] for line in errors] == ["key_source_unavailable"]


def test_every_dashboard_widget_shows_what_the_function_publishes(deployed: tuple[Stack, Emitted]) -> None:
    stack, emitted = deployed
    (dashboard,) = stack.of_type("AWS::CloudWatch::Dashboard").values()
    body = json.loads(dashboard["Properties"]["DashboardBody"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    for wanted in ("by outcome", "by reason", "Key fetches", "Cold starts", "p50 / p99"):
        assert any(wanted in title for title in titles), (wanted, titles)
    searched = 0
    for widget in body["widgets"]:
        properties = widget["properties"]
        assert properties["region"] == REGION
        if widget["type"] == "log":
            source = re.match(r"SOURCE '([^']*)'", properties["query"])
            assert source is not None and source.group(1) == stack.physical["AuthorizerLogGroup"]
            check_query(properties["query"], emitted)
            continue
        for entry in properties["metrics"]:
            options = entry[-1] if isinstance(entry[-1], dict) else {}
            if "expression" in options:
                check_search(options["expression"], emitted)
                searched += 1
                continue
            parts = [p for p in entry if not isinstance(p, dict)]
            namespace, name, *pairs = parts
            check_metric(stack, emitted, namespace, name, dict(zip(pairs[0::2], pairs[1::2], strict=True)))
    assert searched == 1


def check_search(expression: str, emitted: Emitted) -> None:
    """A SEARCH over one dimension set of one metric: the set and every value it asks for exist."""
    match = re.fullmatch(r"SEARCH\('\{([^}]*)\} (.*)', '(\w+)', (\d+)\)", expression)
    assert match is not None, expression
    schema = [part.strip().strip('"') for part in match.group(1).split(",")]
    namespace, dimension_names = schema[0], set(schema[1:])
    terms = re.findall(r'(\w+)="([^"]*)"', match.group(2))
    metric = dict(terms)["MetricName"]
    asked: dict[str, set[str]] = {}
    for key, value in terms:
        if key != "MetricName":
            asked.setdefault(key, set()).add(value)
    fixed = {k: next(iter(v)) for k, v in asked.items() if len(v) == 1}
    published = [dict(dims) for ns, name, dims in emitted.metrics if ns == namespace and name == metric]
    in_set = [dims for dims in published if set(dims) == dimension_names]
    assert in_set, f"{metric} is never published with exactly {sorted(dimension_names)}"
    for key, values in asked.items():
        for value in values:
            assert any(dims.get(key) == value and all(dims.get(k) == v for k, v in fixed.items()) for dims in in_set), (
                f"no {metric} with {key}={value} and {fixed}"
            )


def test_every_saved_query_reads_fields_the_function_logs(deployed: tuple[Stack, Emitted]) -> None:
    stack, emitted = deployed
    queries = stack.of_type("AWS::Logs::QueryDefinition")
    assert len(queries) == 4
    names = sorted(q["Properties"]["Name"] for q in queries.values())
    assert names == [
        f"{STACK}/errors",
        f"{STACK}/refusals-by-reason",
        f"{STACK}/request-by-apigateway-id",
        f"{STACK}/top-refused-clients",
    ]
    for query in queries.values():
        properties = query["Properties"]
        assert properties["LogGroupNames"] == [stack.physical["AuthorizerLogGroup"]]
        check_query(properties["QueryString"], emitted)


def test_the_operations_page_shows_the_saved_queries_as_deployed() -> None:
    page = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    queries = [r for r in sam_template()["Resources"].values() if r["Type"] == "AWS::Logs::QueryDefinition"]
    assert len(queries) == 4
    for query in queries:
        assert f"```\n{query['Properties']['QueryString']}```" in page, query["Properties"]["Name"]
    for alarm in (n for n, r in sam_template()["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"):
        assert f"### {alarm}" in page, alarm  # the runbook section each alarm's description points to


def test_one_request_can_be_found_by_its_api_gateway_request_id(deployed: tuple[Stack, Emitted]) -> None:
    _, emitted = deployed
    found = [line for line in emitted.lines if line.get("apigw_request_id") == "r-2"]
    assert len(found) == 1 and found[0]["outcome"] == "allow" and found[0]["stage"] == "$default"


def test_query_parsing_sees_fields_and_not_aliases_or_literals() -> None:
    query = 'fields @timestamp, kid | filter outcome = "deny" | stats count(*) as n by reason | sort n desc'
    assert query_fields(query) == {"kid", "outcome", "reason"}
    assert query_comparisons(query) == [("outcome", "deny")]


def test_rollback_triggers_are_the_alarms_and_the_apis_attach_to_the_alias() -> None:
    stack = deploy(DeploymentPreference="Canary10Percent5Minutes")
    (group,) = stack.of_type("AWS::CodeDeploy::DeploymentGroup").values()
    alarms = {a["Name"] for a in group["Properties"]["AlarmConfiguration"]["Alarms"]}
    assert alarms == {stack.physical[name] for name in stack.of_type("AWS::CloudWatch::Alarm")}
    assert group["Properties"]["DeploymentConfigName"] == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    alias = stack.physical["AuthorizerFunctionAliaslive"]
    assert alias.endswith(":live")
    assert stack.resolve(stack.template["Outputs"]["AuthorizerFunctionArn"]["Value"]) == alias


def test_without_alarms_nothing_alarms_and_nothing_rolls_back() -> None:
    stack = deploy(CreateAlarms="false")
    assert stack.of_type("AWS::CloudWatch::Alarm") == {}
    (group,) = stack.of_type("AWS::CodeDeploy::DeploymentGroup").values()
    assert group["Properties"]["AlarmConfiguration"] == {}
    assert stack.of_type("AWS::CloudWatch::Dashboard") == {}  # optional, off by default


def test_an_alarm_topic_is_notified_on_alarm_and_recovery() -> None:
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:on-call"
    stack = deploy(AlarmTopicArn=topic)
    for alarm in stack.of_type("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [topic]
        assert alarm["Properties"]["OKActions"] == [topic]


def test_one_invoke_permission_covers_every_api_of_the_account(deployed: tuple[Stack, Emitted]) -> None:
    stack, _ = deployed
    permissions = stack.of_type("AWS::Lambda::Permission")
    own = permissions["AuthorizerInvokePermission"]["Properties"]
    assert own["FunctionName"] == stack.physical["AuthorizerFunctionAliaslive"]
    assert own["Principal"] == "apigateway.amazonaws.com" and own["SourceAccount"] == ACCOUNT
    # API Gateway invokes an authorizer as arn:...:{api-id}/authorizers/{authorizer-id}.
    for api in ("a1b2c3d4e5", "zz99yy88xx"):
        assert fnmatch.fnmatchcase(f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api}/authorizers/abc123", own["SourceArn"])
    assert not fnmatch.fnmatchcase(f"arn:aws:execute-api:{REGION}:999999999999:a1/authorizers/x", own["SourceArn"])
    # The example HTTP API relies on it: SAM adds no permission of its own for it.
    http_api_permissions = [p for p in permissions if p.startswith("ExampleHttpApi")]
    assert http_api_permissions == []
    apis = [*stack.of_type("AWS::ApiGateway::RestApi").values(), *stack.of_type("AWS::ApiGatewayV2::Api").values()]
    assert len(apis) == 2
    for api in apis:
        assert f"functions/{stack.physical['AuthorizerFunctionAliaslive']}/invocations" in json.dumps(api)


def test_the_log_group_is_kept_and_tracing_follows_the_setting() -> None:
    for disabled, mode in (("false", "Active"), ("true", "PassThrough")):
        stack = deploy(TraceDisabled=disabled)
        function = stack.of_type("AWS::Lambda::Function")["AuthorizerFunction"]["Properties"]
        assert function["TracingConfig"] == {"Mode": mode}
        assert "ReservedConcurrentExecutions" not in function
        assert function["Architectures"] == ["arm64"]
    group = stack.resources["AuthorizerLogGroup"]
    assert group["DeletionPolicy"] == "Retain" and group["UpdateReplacePolicy"] == "Retain"


def test_capacity_parameters_reach_both_functions() -> None:
    parameters = {"Architecture": "x86_64", "ReservedConcurrency": "200", "CreateExampleApi": "true"}
    stack = deploy(**parameters)
    functions = stack.of_type("AWS::Lambda::Function")
    assert {name: f["Properties"]["Architectures"] for name, f in functions.items()} == {
        "AuthorizerFunction": ["x86_64"],
        "EchoFunction": ["x86_64"],
    }
    assert functions["AuthorizerFunction"]["Properties"]["ReservedConcurrentExecutions"] == "200"


def test_given_names_win_over_the_stack_name() -> None:
    parameters = {"ServiceName": "orders-authorizer", "MetricsNamespace": "Orders/Auth"}
    stack = deploy(**parameters)
    assert namespace_and_service(stack) == ("Orders/Auth", "orders-authorizer")
    errors = stack.of_type("AWS::CloudWatch::Alarm")["ErrorsAlarm"]["Properties"]
    assert errors["Namespace"] == "Orders/Auth"
    assert {"Name": "service", "Value": "orders-authorizer"} in errors["Dimensions"]


def test_every_parameter_is_in_exactly_one_group() -> None:
    template = sam_template()
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [name for group in groups for name in group["Parameters"]]
    assert sorted(grouped) == sorted(template["Parameters"])
    assert len(grouped) == len(set(grouped))


def test_serverless_repository_metadata() -> None:
    application = sam_template()["Metadata"]["AWS::ServerlessRepo::Application"]
    assert {"Name", "Description", "Author", "SpdxLicenseId", "LicenseUrl", "ReadmeUrl", "SemanticVersion"} <= set(
        application
    )
    assert application["SpdxLicenseId"] == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert application["SemanticVersion"] == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert (ROOT / application["ReadmeUrl"]).is_file()


def test_samconfig_and_the_readme_deploy_with_few_parameters() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    deploy = config["default"]["deploy"]["parameters"]
    assert deploy["capabilities"] == "CAPABILITY_IAM" and deploy["resolve_s3"] is True
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"sam deploy --parameter-overrides ([^\n]*(?:\\\n[^\n]*)*)", readme)
    assert command is not None
    given = set(re.findall(r"\b([A-Z][A-Za-z]+)=", command.group(1)))
    assert given and given <= set(sam_template()["Parameters"]), given
    assert len(given) <= 4


def test_the_rendered_environment_is_the_documented_one() -> None:
    env = deploy().environment
    assert env["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"
    assert (env["POWERTOOLS_SERVICE_NAME"], env["POWERTOOLS_METRICS_NAMESPACE"]) == (STACK, f"JwtAuthorizer/{STACK}")
    assert env["ISSUER"] == "https://issuer.example" and env["JWKS_URI"] == ""
