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

/// Several execution environments of one function behind one [`Invoke`]: each call goes to the
/// next one in turn. Lambda does not document how it places invocations on warm environments;
/// taking turns is the deterministic worst case for a per-environment cache (each environment
/// sees each user), which is what the shared cache tier is for.
pub struct RoundRobin {
    environments: Vec<std::sync::Arc<dyn Invoke>>,
    next: std::sync::atomic::AtomicUsize,
}

impl RoundRobin {
    /// Calls spread over `environments` (at least one), starting with the first.
    pub fn new(environments: Vec<std::sync::Arc<dyn Invoke>>) -> Self {
        assert!(!environments.is_empty(), "RoundRobin needs an environment");
        Self { environments, next: std::sync::atomic::AtomicUsize::new(0) }
    }

    fn pick(&self) -> &dyn Invoke {
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        &*self.environments[i % self.environments.len()]
    }
}

impl Invoke for RoundRobin {
    fn invoke(&self, event: Value, deadline: Duration) -> BoxFuture<'_, Result<Value, InvokeError>> {
        self.pick().invoke(event, deadline)
    }

    fn invoke_with_client_context(&self, event: Value, context: Value, deadline: Duration) -> Invocation<'_> {
        self.pick().invoke_with_client_context(event, context, deadline)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// An environment that answers with its own number.
    struct Numbered(u64);

    impl Invoke for Numbered {
        fn invoke(&self, _: Value, _: Duration) -> BoxFuture<'_, Result<Value, InvokeError>> {
            Box::pin(async move { Ok(Value::from(self.0)) })
        }
    }

    #[tokio::test]
    async fn round_robin_takes_turns() {
        let spread = RoundRobin::new(vec![Arc::new(Numbered(0)), Arc::new(Numbered(1))]);
        let mut seen = Vec::new();
        for _ in 0..5 {
            seen.push(spread.invoke(Value::Null, Duration::from_secs(1)).await.unwrap());
        }
        assert_eq!(seen, [0, 1, 0, 1, 0].map(Value::from));
        // A runner that cannot pass a client context still refuses, whichever turn it is.
        let refused =
            spread.invoke_with_client_context(Value::Null, Value::Null, Duration::from_secs(1)).await;
        assert!(matches!(refused, Err(InvokeError::Crashed(_))));
    }
}
