"""The cold-start shortcut must not break anyone who imports the rest of Powertools' data classes."""

from __future__ import annotations

import subprocess
import sys


def test_authorizer_classes_alone_then_the_whole_package_on_demand() -> None:
    probe = (
        "import sys, jwt_authorizer.incoming\n"
        "loaded = set(sys.modules)\n"
        "assert 'aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event' in loaded\n"
        "assert 'aws_lambda_powertools.utilities.data_classes.sqs_event' not in loaded, 'package ran eagerly'\n"
        "from aws_lambda_powertools.utilities.data_classes import SQSEvent, event_source\n"
        "import aws_lambda_powertools.utilities.data_classes as dc\n"
        "assert dc.APIGatewayProxyEvent.__name__ == 'APIGatewayProxyEvent'\n"
        "print(SQSEvent.__name__, callable(event_source))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "SQSEvent True"
