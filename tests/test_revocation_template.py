"""template.yaml: a parameter per revocation setting, and s3:GetObject on exactly the list object, only with S3.

The template is rendered offline with aws-sam-translator, the way CloudFormation's SAM transform
renders it (``test_template.render``), and the role's policies are read from the result.
"""

from __future__ import annotations

from typing import Any

import pytest

from jwt_authorizer import constants as c
from test_template import render


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    return render()


def test_every_revocation_variable_is_a_parameter(rendered: dict[str, Any]) -> None:
    variables = rendered["Resources"]["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
    names = [value for key, value in vars(c).items() if key.startswith("REVOCATION_") and key.endswith("_ENV")]
    assert len(names) == 8
    for name in names:
        parameter = variables[name]["Ref"]
        assert rendered["Parameters"][parameter]["Default"] == ""


def test_get_object_on_exactly_the_configured_object_only_with_an_s3_source(rendered: dict[str, Any]) -> None:
    condition = rendered["Conditions"]["WithRevocationS3"]
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": "RevocationS3Bucket"}, ""]}]}
    policies = rendered["Resources"]["AuthorizerFunctionRole"]["Properties"]["Policies"]
    (only,) = policies
    name, granted, otherwise = only["Fn::If"]
    assert name == "WithRevocationS3"
    assert otherwise == {"Ref": "AWS::NoValue"}
    (statement,) = granted["PolicyDocument"]["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${RevocationS3Bucket}/${RevocationS3Key}"},
    }
    # No wildcard can widen the grant: the key parameter refuses * and ?.
    assert rendered["Parameters"]["RevocationS3Key"]["AllowedPattern"] == "^[^*?]*$"
