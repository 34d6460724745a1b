"""The cold-start shortcut must not break anyone who imports the rest of Powertools."""

from __future__ import annotations

import os
import subprocess
import sys

from appload import OWN_VARIABLES


def run(probe: str) -> str:
    # A clean environment: earlier tests in this worker leave the function's variables in os.environ.
    env = {k: v for k, v in os.environ.items() if k not in OWN_VARIABLES}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_handler_loads_only_what_it_runs() -> None:
    # Without route rules, the cold start and a first REST TOKEN answer need neither Powertools'
    # response classes (the stage-wide document is built directly) nor the rules engine.
    probe = (
        "import os, sys\n"
        "os.environ.update(ISSUER='https://issuer.example', AUDIENCE='api://x', JWKS_PREFETCH='false')\n"
        "import jwt_authorizer.app\n"
        "loaded = set(sys.modules)\n"
        "for heavy in ('aws_lambda_powertools.utilities.data_classes.sqs_event',\n"
        "              'aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event',\n"
        "              'jwt_authorizer.rules', 'jwt_authorizer.doctor', 'jwt_authorizer.revocation',\n"
        "              'aws_lambda_powertools.logging.logger', 'aws_lambda_powertools.tracing.tracer',\n"
        "              'importlib.metadata'):\n"
        "    assert heavy not in loaded, heavy\n"
        "print('ok')\n"
    )
    assert run(probe) == "ok"


def test_urllib3_http2_on_demand() -> None:
    probe = (
        "import sys, jwt_authorizer, urllib3\n"
        "assert 'importlib.metadata' not in sys.modules and 'urllib3.http2.probe' in sys.modules\n"
        "assert callable(urllib3.http2.inject_into_urllib3) and 'importlib.metadata' in sys.modules\n"
        "from urllib3.http2 import extract_from_urllib3\n"
        "print(extract_from_urllib3.__name__)\n"
    )
    assert run(probe) == "extract_from_urllib3"


def test_route_rules_bring_the_rules_engine_and_powertools_responses() -> None:
    probe = (
        "import os, sys\n"
        "os.environ.update(ISSUER='https://issuer.example', AUDIENCE='api://x', JWKS_PREFETCH='false',\n"
        '                  ROUTE_RULES=\'{"rules": [{"path": "/orders", "require": "authenticated"}]}\')\n'
        "import jwt_authorizer.app\n"
        "from jwt_authorizer.responses import iam_policy\n"
        "assert 'jwt_authorizer.rules' in sys.modules\n"
        "assert 'aws_lambda_powertools.utilities.data_classes.sqs_event' not in sys.modules\n"
        "print('ok')\n"
    )
    assert run(probe) == "ok"


def test_a_name_that_is_both_a_submodule_and_an_object_is_what_the_package_binds() -> None:
    """``data_classes/__init__`` binds the function ``event_source`` over its submodule of that name."""
    probe = (
        "import jwt_authorizer.incoming, inspect\n"
        "from aws_lambda_powertools.utilities.data_classes import event_source\n"
        "import aws_lambda_powertools\n"
        "print(inspect.isfunction(event_source), aws_lambda_powertools.metrics.__name__)\n"
    )
    assert run(probe) == "True aws_lambda_powertools.metrics"


def test_the_whole_of_powertools_on_demand() -> None:
    probe = (
        "import jwt_authorizer.incoming\n"
        "from aws_lambda_powertools.utilities.data_classes import SQSEvent, event_source\n"
        "import aws_lambda_powertools.utilities.data_classes as dc\n"
        "assert dc.APIGatewayProxyEvent.__name__ == 'APIGatewayProxyEvent'\n"
        "from aws_lambda_powertools import Logger, Metrics, Tracer\n"
        "import aws_lambda_powertools\n"
        "assert aws_lambda_powertools.__version__\n"
        "print(SQSEvent.__name__, callable(event_source), Logger.__name__, Metrics.__name__, Tracer.__name__)\n"
    )
    assert run(probe) == "SQSEvent True Logger Metrics Tracer"
