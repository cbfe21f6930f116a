//! The `sdk` transport: Cognito `GetClientToken` through the AWS SDK (SigV4-signed, so the
//! Lambda role needs `cognito-idp:GetClientToken`; no hosted domain needed, which suits VPCs
//! without internet access). The SDK's own retries are off: the token client retries.
//! `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER` (or `AWS_ENDPOINT_URL`) overrides the endpoint.

use std::time::Duration;

use aws_sdk_cognitoidentityprovider as cognito;
use cognito::config::http::HttpResponse;
use cognito::error::{ProvideErrorMetadata, SdkError};
use cognito::operation::get_client_token::GetClientTokenError;
use futures_util::future::BoxFuture;

use super::timeouts::{Deadline, timeouts};
use crate::interceptor::token_client::{
    Attempt, AttemptError, Grant, Issued, Retry, TokenTransport, issued, trigger_reason,
};
use crate::reason::ReasonCode;

/// The `sdk` transport: a Cognito client for `GetClientToken`.
pub(crate) struct GetClientToken(cognito::Client);

impl GetClientToken {
    /// No SDK retries (the caller retries), attempts capped at `attempt_timeout`.
    pub(crate) fn new(sdk: &aws_config::SdkConfig, attempt_timeout: Duration) -> Self {
        let timeouts =
            timeouts(attempt_timeout.min(Duration::from_secs(3)), Deadline::Attempt(attempt_timeout));
        let conf = cognito::config::Builder::from(sdk)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .timeout_config(timeouts)
            .build();
        Self(cognito::Client::from_conf(conf))
    }
}

impl TokenTransport for GetClientToken {
    fn attempt<'a>(&'a self, attempt: Attempt<'a>) -> BoxFuture<'a, Result<Issued, AttemptError>> {
        Box::pin(get_client_token(&self.0, attempt))
    }
}

/// One `GetClientToken` call.
async fn get_client_token(client: &cognito::Client, attempt: Attempt<'_>) -> Result<Issued, AttemptError> {
    let Attempt { client_id, secret, grant, deadline, now_ms } = attempt;
    let Grant::ClientCredentials { scopes, metadata } = grant else {
        return Err(AttemptError::new(
            ReasonCode::Misconfigured,
            "token exchange needs the oauth2 transport",
            Retry::No,
        ));
    };
    let mut request = client
        .get_client_token()
        .client_id(client_id)
        .secret(secret.expose())
        .set_scopes(Some(scopes.to_vec()));
    for (key, value) in metadata {
        request = request.client_metadata(*key, *value);
    }
    // Boxed: the SDK's orchestrator future nests deep enough to overflow the layout query
    // depth of callers that embed it.
    let output = match tokio::time::timeout(deadline, Box::pin(request.send())).await {
        Err(_) => return Err(AttemptError::timeout()),
        Ok(Ok(output)) => output,
        Ok(Err(err)) => return Err(classify(err)),
    };
    let Some(result) = output.client_authentication_result() else {
        return Err(AttemptError::new(
            ReasonCode::IdpUnavailable,
            "GetClientToken returned no token",
            Retry::No,
        ));
    };
    if !result.token_type().is_none_or(|t| t.eq_ignore_ascii_case("bearer")) {
        return Err(AttemptError::new(
            ReasonCode::IdpUnavailable,
            "GetClientToken returned no Bearer token",
            Retry::No,
        ));
    }
    let expires_in = u64::try_from(result.expires_in()).ok().filter(|s| *s > 0);
    issued(result.access_token().unwrap_or_default().to_owned(), expires_in, now_ms)
}

fn classify(err: SdkError<GetClientTokenError, HttpResponse>) -> AttemptError {
    let status = match &err {
        SdkError::ServiceError(service) => Some(service.raw().status().as_u16()),
        _ => None,
    };
    let mut mapped = match &err {
        SdkError::TimeoutError(_) => AttemptError::timeout(),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => AttemptError::timeout(),
        SdkError::DispatchFailure(_) => AttemptError::unreachable("Cognito could not be reached"),
        SdkError::ServiceError(service) => by_code(service.err().code(), service.err().message(), status),
        _ => AttemptError::new(ReasonCode::IdpUnavailable, "Cognito's answer could not be read", Retry::No),
    };
    mapped.status = status;
    mapped
}

fn by_code(code: Option<&str>, message: Option<&str>, status: Option<u16>) -> AttemptError {
    if let Some(reason) = message.and_then(trigger_reason) {
        return AttemptError::new(
            reason,
            format!("the pre-token trigger refused the on-behalf-of request ({reason})"),
            Retry::No,
        );
    }
    let code = code.unwrap_or_default();
    match code {
        "NotAuthorizedException" => AttemptError::new(
            ReasonCode::IdpClientRejected,
            "Cognito rejected the interceptor's client credentials",
            Retry::InvalidClient,
        ),
        "TooManyRequestsException" | "LimitExceededException" => AttemptError::new(
            ReasonCode::IdpThrottled,
            "Cognito is throttling token requests",
            Retry::After(None),
        ),
        "InternalErrorException" => {
            AttemptError::new(ReasonCode::IdpUnavailable, "Cognito failed", Retry::After(None))
        }
        "InvalidParameterException" | "ResourceNotFoundException" | "OperationNotEnabledException" => {
            AttemptError::new(
                ReasonCode::Misconfigured,
                format!("Cognito refused the request as configured ({code})"),
                Retry::No,
            )
        }
        _ if status.is_some_and(|s| s >= 500) => {
            AttemptError::new(ReasonCode::IdpUnavailable, "Cognito failed", Retry::After(None))
        }
        _ => AttemptError::new(
            ReasonCode::OboDenied,
            "Cognito refused to mint the on-behalf-of token",
            Retry::No,
        ),
    }
}
