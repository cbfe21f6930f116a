//! Which MCP requests may be served with a service token (one that acts for no user).

/// The MCP methods a service token may call: the lifecycle, and the list methods the gateway's
/// tool synchronisation calls with its own credential (AgentCore's implicit synchronisation
/// lists prompts and resources as well as tools). Everything else — `tools/call`,
/// `resources/read`, `prompts/get`, `completion/complete`, … — acts for a user and needs an on-behalf-of token.
pub const SERVICE_METHODS: [&str; 6] =
    ["initialize", "ping", "tools/list", "prompts/list", "resources/list", "resources/templates/list"];

/// Whether a JSON-RPC `method` may be served with [`TargetVerifier::verify_service`]: one of
/// [`SERVICE_METHODS`], or a notification (`notifications/…`, which has no result).
///
/// [`TargetVerifier::verify_service`]: crate::TargetVerifier::verify_service
pub fn service_method_allowed(method: &str) -> bool {
    SERVICE_METHODS.contains(&method) || method.starts_with("notifications/")
}

#[cfg(test)]
mod tests {
    use super::service_method_allowed;

    #[test]
    fn lists_and_lifecycle_only() {
        for allowed in
            ["initialize", "tools/list", "prompts/list", "resources/list", "resources/templates/list"]
        {
            assert!(service_method_allowed(allowed), "{allowed}");
        }
        assert!(service_method_allowed("notifications/initialized"));
        for acting in ["tools/call", "resources/read", "prompts/get", "Tools/list", "tools/list ", ""] {
            assert!(!service_method_allowed(acting), "{acting:?}");
        }
    }
}
