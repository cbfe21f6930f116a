//! The pre-token trigger without the AWS SDK (`OBO_USER_LOOKUP` needs `pre-token-lookup`).

// The deployed build is static musl (its setenv does not leak under lambda_runtime); musl's own
// allocator is slow on the hot path, hence mimalloc (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pre_token::run().await
}
