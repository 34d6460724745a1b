"""jwt-authorizer: an AWS Lambda authorizer for API Gateway that verifies OIDC/JWT access tokens.

The Lambda handler is ``jwt_authorizer.app.lambda_handler``; the token doctor is
``python -m jwt_authorizer``.
"""

from . import lazy_imports

lazy_imports.register()

__version__ = "0.1.0"
