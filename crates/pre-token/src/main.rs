//! The pre-token trigger without the AWS SDK (`OBO_USER_LOOKUP` needs `pre-token-lookup`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pre_token::run().await
}
