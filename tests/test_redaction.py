"""Secrets never reach a log line (review finding 6).

A key-source URL may carry credentials (``user:pass@``, a signed URL's query string): every
message naming a URL names it without them, whether it comes from a failed fetch (the decision
line's ``detail``), the key cache, or a configuration error. Of an ``Authorization`` value that is
not Bearer, only a recognised scheme name is ever logged, never any part of the credential.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from jwt_authorizer.config import load_settings
from jwt_authorizer.exceptions import ConfigurationError
from jwt_authorizer.observability import redact_text
from jwt_authorizer.urls import redact_url
from support import IdentityProvider, KeyPair, Outcome, claims, env_for, invoke, log_lines_of, rest_token_event

SECRETS = ("hunter2", "S3CR3T", "alice")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://alice:hunter2@idp.example/keys?sig=S3CR3T", "https://***@idp.example/keys?***"),
        ("https://idp.example:8443/t/keys?appid=x#frag", "https://idp.example:8443/t/keys?***"),
        ("https://idp.example/keys", "https://idp.example/keys"),
        ("https://[::1/keys?S3CR3T", "<an unparsable URL>"),
        ("alice:hunter2@idp.example/keys?S3CR3T", "***@idp.example/keys?***"),
        # A credential with an unencoded "/", "?" or "#" ends the authority early for urlsplit.
        ("https://alice:hun/ter2@idp.example/keys", "https://***@idp.example/keys"),
        ("https://alice:hun#ter2@idp.example/keys", "https://***@idp.example/keys"),
        ("https://alice:hun?ter2@idp.example/keys?sig=S3CR3T", "https://***@idp.example/keys?***"),
        ("https://alice/hunter2@idp.example/keys?sig=S3CR3T", "https://***@idp.example/keys?***"),
        ("https://idp.example:hunter2/keys", "<an unparsable URL>"),
        # ... and when the credential's first part reads as a port: host "alice", port 2024.
        ("https://alice:2024#hunter2@idp.example/keys", "https://***@idp.example/keys"),
        ("https://alice:2024?hunter2@idp.example/keys", "https://***@idp.example/keys"),
        ("https://idp.example/keys?next=alice@idp.example#a@b", "https://idp.example/keys?***"),
        (None, "<not a URL: NoneType>"),
        (["https://idp.example"], "<not a URL: list>"),
    ],
)
def test_redact_url(url: Any, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize("variable", ["JWKS_URI", "DISCOVERY_URL"])
def test_a_failed_fetch_logs_the_url_without_its_credentials(
    load_app: Callable[..., ModuleType],
    signer: KeyPair,
    idp: IdentityProvider,
    variable: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = idp.base.rsplit(":", 1)[1]
    url = f"http://alice:hunter2@127.0.0.1:{port}/missing?X-Amz-Signature=S3CR3T"
    module = load_app(**{variable: url})
    capsys.readouterr()
    assert invoke(module, rest_token_event(signer.sign(claims(idp.issuer))))[0] == Outcome(
        500, "key_source_unavailable"
    )
    out = capsys.readouterr().out
    line = log_lines_of(out)[-1]
    assert "answered HTTP 404" in line["detail"]
    assert f"http://***@127.0.0.1:{port}/missing?***" in line["detail"]
    assert not any(secret in out for secret in SECRETS), out


@pytest.mark.parametrize("variable", ["JWKS_URI", "DISCOVERY_URL"])
def test_a_configuration_error_names_the_url_without_its_credentials(idp: IdentityProvider, variable: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings(env_for(idp, **{variable: "http://alice:hunter2@idp.example/keys?sig=S3CR3T"}))
    assert info.value.variable == variable
    assert "http://***@idp.example/keys?***" in str(info.value)
    assert not any(secret in str(info.value) for secret in SECRETS)


def test_an_issuer_error_names_the_url_without_its_credentials() -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings({"ISSUER": "http://alice:hunter2@idp.example/?S3CR3T", "AUDIENCE": "api://x"})
    assert not any(secret in str(info.value) for secret in SECRETS)


@pytest.mark.parametrize(
    ("authorization", "named"),
    [
        ("abcdefgh", None),  # a bare credential of a few letters: nothing of it is logged
        ("S3CR3T", None),
        ("hunter2abcdefghi", None),
        ("Basic YWxpY2U6aHVudGVyMg==", "Basic"),
        ("basic YWxpY2U6aHVudGVyMg==", "Basic"),  # the registered spelling, not the caller's
        ("Digest username=alice", "Digest"),
        ("NEGOTIATE YIIabc", "Negotiate"),
        ("NTLM TlRMTVNTUAAB", "NTLM"),
        ("DPoP eyJhbGciOi", "DPoP"),
        # The credential holds no digits: a digit run such as "2024" can turn up inside a log line's
        # millisecond timestamp, and the check below looks for every word anywhere in the output.
        ("AWS4-HMAC-SHA256 Credential=AKIAalice/qqsigdate", "AWS4-HMAC-SHA256"),
        ("Hunter2 xyz", None),  # an unknown scheme is a word a caller chose: not logged
        ("Token zqxvk", None),
    ],
)
def test_only_a_recognised_scheme_name_of_an_authorization_value_is_logged(
    load_app: Callable[..., ModuleType], authorization: str, named: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    module = load_app()
    event = rest_token_event(None)
    event["authorizationToken"] = authorization
    capsys.readouterr()
    assert invoke(module, event)[0] == Outcome(401, "malformed_authorization")
    out = capsys.readouterr().out
    line = log_lines_of(out)[-1]
    assert line.get("actual") == named
    words = [word for word in authorization.replace("=", " ").replace("/", " ").split() if word != named]
    assert not any(word.isdigit() for word in words), "a digit-only word could match a timestamp by chance"
    assert not any(word in out for word in words if len(word) > 2), out


@pytest.mark.parametrize(
    "url",
    [
        "https://alice:hun/ter2@idp.example/keys",
        "https://alice:hun#ter2@idp.example/keys",
        "https://idp.example:x/k",
        "https://alice:2024#hunter2@idp.example/keys",  # port 2024 of host "alice", for urlsplit
    ],
)
def test_a_url_whose_port_is_not_a_number_is_refused_and_not_shown(idp: IdentityProvider, url: str) -> None:
    """``https://alice:hun/ter2@...`` reads as host alice, port "hun": a mistyped credential, refused at
    cold start, and its message shows none of it."""
    with pytest.raises(ConfigurationError) as info:
        load_settings(env_for(idp, JWKS_URI=url))
    assert info.value.variable == "JWKS_URI"
    assert not any(secret in str(info.value) for secret in (*SECRETS, "hun", "ter2"))


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "GET https://alice:hun;ter2@idp.example/keys?sig=S3CR3T failed",
            "GET https://***@idp.example/keys?*** failed",
        ),
        ("from https://alice:hunter2,@idp.example/keys, then", "from https://***@idp.example/keys, then"),
        ("(got 'https://idp.example/k?sig=S3CR3T')", "(got 'https://idp.example/k?***')"),
    ],
)
def test_text_with_a_url_hides_all_of_its_credential(text: str, shown: str) -> None:
    assert redact_text(text) == shown
