//! The client secret's readers: Secrets Manager `GetSecretValue` (`OBO_CLIENT_SECRET_ARN`) and
//! Cognito `DescribeUserPoolClient` (`OBO_USER_POOL_ID`), each a [`FetchSecret`]. Endpoint
//! overrides come from the SDK configuration.

use std::time::Duration;

use aws_sdk_cognitoidentityprovider as cognito;
use aws_sdk_secretsmanager as secretsmanager;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use futures_util::future::BoxFuture;

use super::timeouts::{Deadline, timeouts};
use crate::interceptor::client_secret::{FetchSecret, SecretSource, secret_from_string};
use crate::secret::Secret;

/// A reader of `source` for the app client `client_id`; `None` for a literal (nothing to read).
pub(crate) fn reader(
    sdk: &aws_config::SdkConfig,
    source: &SecretSource,
    client_id: &str,
) -> Option<Box<dyn FetchSecret>> {
    let timeouts = timeouts(Duration::from_secs(2), Deadline::Operation(Duration::from_secs(5)));
    Some(match source {
        SecretSource::Literal(_) => return None,
        SecretSource::SecretsManager { arn } => {
            let conf = secretsmanager::config::Builder::from(sdk).timeout_config(timeouts).build();
            Box::new(SecretsManagerFetcher {
                client: secretsmanager::Client::from_conf(conf),
                arn: arn.clone(),
            })
        }
        SecretSource::UserPoolClient { user_pool_id } => {
            let region = user_pool_id.split('_').next().unwrap_or_default().to_owned();
            let conf = cognito::config::Builder::from(sdk)
                .region(cognito::config::Region::new(region))
                .timeout_config(timeouts)
                .build();
            Box::new(UserPoolClientFetcher {
                client: cognito::Client::from_conf(conf),
                user_pool_id: user_pool_id.clone(),
                client_id: client_id.to_owned(),
            })
        }
    })
}

fn describe<E: ProvideErrorMetadata>(api: &str, err: &E) -> String {
    match err.code() {
        Some(code) => format!("{api} failed ({code})"),
        None => format!("{api} failed (no answer)"),
    }
}

/// Fetches the secret from Secrets Manager (`secretsmanager:GetSecretValue`).
struct SecretsManagerFetcher {
    client: secretsmanager::Client,
    arn: String,
}

impl FetchSecret for SecretsManagerFetcher {
    fn fetch(&self) -> BoxFuture<'_, Result<Secret, String>> {
        let call = self.client.get_secret_value().secret_id(&self.arn).send();
        Box::pin(async move {
            let out = call.await.map_err(|e| describe("Secrets Manager GetSecretValue", &e))?;
            secret_from_string(out.secret_string().ok_or("the secret has no SecretString")?)
        })
    }
}

/// Reads the secret with `cognito-idp:DescribeUserPoolClient`.
struct UserPoolClientFetcher {
    client: cognito::Client,
    user_pool_id: String,
    client_id: String,
}

impl FetchSecret for UserPoolClientFetcher {
    fn fetch(&self) -> BoxFuture<'_, Result<Secret, String>> {
        let call = self.client.describe_user_pool_client().user_pool_id(&self.user_pool_id);
        let call = call.client_id(&self.client_id).send();
        Box::pin(async move {
            let out = call.await.map_err(|e| describe("DescribeUserPoolClient", &e))?;
            match out.user_pool_client().and_then(|c| c.client_secret()) {
                Some(s) if !s.is_empty() => Ok(Secret::new(s)),
                _ => Err("the app client has no secret".into()),
            }
        })
    }
}
