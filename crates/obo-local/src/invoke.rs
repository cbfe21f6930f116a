//! How the local stack calls a Lambda function: the interface between the Lambda Runtime API
//! host (which runs the real binaries) and its callers (the Cognito emulator invoking the
//! pre-token trigger, the gateway emulator invoking the interceptor).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::Value;

/// Why an invocation produced no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The function returned an error (`POST …/invocation/{id}/error`).
    #[error("function error {error_type}: {error_message}")]
    Function {
        /// `errorType` as the function reported it.
        error_type: String,
        /// `errorMessage` as the function reported it.
        error_message: String,
    },
    /// The function did not answer before the deadline (it is stopped and restarted).
    #[error("function timed out after {0:?}")]
    Timeout(Duration),
    /// The function's process exited or failed to start (`/runtime/init/error` included).
    #[error("function crashed: {0}")]
    Crashed(String),
}

/// A boxed future, for object-safe async traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One pending invocation's answer.
pub type Invocation<'a> = BoxFuture<'a, Result<Value, InvokeError>>;

/// Something that runs a Lambda function with a JSON event.
pub trait Invoke: Send + Sync {
    /// Invokes the function with `event` and waits at most `deadline` for its answer.
    fn invoke(&self, event: Value, deadline: Duration) -> BoxFuture<'_, Result<Value, InvokeError>>;

    /// Invokes the function with `event` and a client context (`{"custom": {…}, …}`), as the
    /// gateway invokes a Lambda target. A runner that cannot pass one refuses the call.
    fn invoke_with_client_context(&self, event: Value, context: Value, deadline: Duration) -> Invocation<'_> {
        let _ = (event, context, deadline);
        Box::pin(async {
            Err(InvokeError::Crashed("this function runner cannot pass a client context".into()))
        })
    }
}
