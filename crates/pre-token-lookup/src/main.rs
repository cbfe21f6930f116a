//! The pre-token trigger with the Cognito user lookup (`OBO_USER_LOOKUP`): the same code as
//! `pre-token`, built with the AWS SDK. A separate binary because `sam build` cannot pass cargo
//! features, and the SDK would otherwise grow every trigger's binary and cold start.

// The deployed build is static musl (its setenv does not leak under lambda_runtime); musl's own
// allocator is slow on the hot path, hence mimalloc (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pre_token::run().await
}
