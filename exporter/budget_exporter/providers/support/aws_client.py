"""boto3 clients for AWS providers, and AWS errors turned into messages that say what to fix.

boto3 is imported lazily, so the base install works without the ``aws`` extra. Credentials
come from AWS's default chain (environment, profile files, SSO, instance or task role); they
never appear in messages, which carry only the provider, the call, the AWS error code and hint.
"""

from __future__ import annotations

from typing import Any

from ...model.errors import ProviderError

INSTALL_HINT = "install the aws extra: pip install 'budget-exporter[aws]'"

CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
    }
)
DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"})
THROTTLE_CODES = frozenset({"LimitExceededException", "ThrottlingException", "Throttling"})
# Longest AWS message kept in an error: enough for "User ... is not authorized to perform ...".
MAX_MESSAGE = 300


def make_client(
    provider: str,
    service: str,
    *,
    region: str,
    profile: str | None = None,
    endpoint_url: str | None = None,
    timeout: float = 30.0,
    attempts: int = 4,
) -> Any:
    """A boto3 client with timeouts and standard retries (backoff with jitter on throttling)."""
    try:
        import boto3
        from botocore.config import Config as BotoConfig
        from botocore.exceptions import BotoCoreError
    except ImportError:
        raise ProviderError(
            f"provider {provider}: boto3 is not installed: {INSTALL_HINT}"
        ) from None
    config = BotoConfig(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"mode": "standard", "max_attempts": attempts},
    )
    try:
        session = boto3.session.Session(profile_name=profile)
        return session.client(service, region_name=region, endpoint_url=endpoint_url, config=config)
    except BotoCoreError as error:
        raise aws_error(provider, f"{service} client", error) from None


def aws_error(provider: str, call: str, error: Exception, permission: str = "") -> ProviderError:
    """A ProviderError naming the provider, the call and what to fix; never credentials."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ParamValidationError,
        PartialCredentialsError,
        ProfileNotFound,
        ReadTimeoutError,
    )

    prefix = f"provider {provider}: {call}"
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code", "unknown"))
        message = str(details.get("Message", ""))[:MAX_MESSAGE]
        if code in DENIED_CODES:
            hint = f"grant {permission} to these credentials" if permission else "grant access"
        elif code in CREDENTIAL_CODES:
            hint = "the AWS credentials were rejected or have expired: renew them"
        elif code in THROTTLE_CODES:
            hint = "AWS throttled the calls even after retries: raise min_interval"
        elif code == "DataUnavailableException":
            hint = (
                "Cost Explorer has no data for this query yet: enable Cost Explorer in the "
                "Billing console; data appears within 24 hours"
            )
        elif code == "BillExpirationException":
            hint = "the start date is older than Cost Explorer keeps: shorten history"
        elif code == "ValidationException":
            hint = "the request was rejected: check filter, group_by and metric"
        else:
            hint = ""
        text = f"{prefix} failed with {code}"
        if message:
            text += f" ({message})"
        return ProviderError(text + (f": {hint}" if hint else ""))
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return ProviderError(
            f"{prefix}: no usable AWS credentials: set AWS_PROFILE (or profile in the config), "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run with an instance or task role"
        )
    if isinstance(error, ProfileNotFound):
        return ProviderError(f"{prefix}: the AWS profile is not in ~/.aws/config: fix profile")
    if isinstance(error, NoRegionError):
        return ProviderError(f"{prefix}: no AWS region: set region in the provider config")
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return ProviderError(f"{prefix}: cannot reach AWS ({type(error).__name__}): check network")
    if isinstance(error, ParamValidationError):
        first = str(error).splitlines()[-1].strip()
        return ProviderError(f"{prefix}: invalid request ({first}): check filter and group_by")
    return ProviderError(f"{prefix} failed: {type(error).__name__}")
