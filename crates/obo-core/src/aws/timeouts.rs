//! What the AWS SDK-backed parts (the trigger's user lookup, the interceptor's `GetClientToken`
//! transport, secret readers and shared-cache store) share: how their calls are bounded in time.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;

/// What bounds an SDK call besides its connection time.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Deadline {
    /// The whole operation, the SDK's retries included.
    Operation(Duration),
    /// Each attempt (for callers that retry themselves: the token client).
    Attempt(Duration),
}

/// The SDK timeouts of a client: `connect` for each connection, and the `deadline`.
pub(crate) fn timeouts(connect: Duration, deadline: Deadline) -> TimeoutConfig {
    let builder = TimeoutConfig::builder().connect_timeout(connect);
    match deadline {
        Deadline::Operation(limit) => builder.operation_timeout(limit),
        Deadline::Attempt(limit) => builder.operation_attempt_timeout(limit),
    }
    .build()
}
