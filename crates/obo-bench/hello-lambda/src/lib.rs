//! A hello-world `lambda_runtime` function, the floor of `make bench`'s cold-start and size
//! figures: see `examples/hello-lambda.rs`. It is an example rather than a binary because the
//! workspace's binaries that use `lambda_runtime` are its deployable Lambdas (template.yaml builds
//! each of them, and `tests/tests/deploy.rs` checks that), which this one is not.
