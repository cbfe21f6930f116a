//! How to run one function: its binary, its own variables, and the environment the host builds
//! around them (Lambda's reserved variables, fake credentials, nothing of the host's own).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The fake static credentials every hosted function gets, so that no AWS SDK inside it looks
/// for real ones (or probes instance metadata). They are not secrets: nothing accepts them.
pub const FAKE_CREDENTIALS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "ASIAOBOLOCALFAKEKEY0"),
    ("AWS_SECRET_ACCESS_KEY", "obo-local-fake-secret-access-key"),
    ("AWS_SESSION_TOKEN", "obo-local-fake-session-token"),
];

/// How to run one function.
#[derive(Clone)]
pub struct FunctionConfig {
    /// The function name (`AWS_LAMBDA_FUNCTION_NAME`, the ARN).
    pub name: String,
    /// The executable (a `bootstrap` built for `provided.al2023`, or a debug build).
    pub binary: PathBuf,
    /// The function's own environment variables. Values may be secrets: never printed.
    pub env: BTreeMap<String, String>,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB.
    pub memory_mb: u32,
    /// `AWS_REGION` and the ARN's region.
    pub region: String,
}

impl fmt::Debug for FunctionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionConfig")
            .field("name", &self.name)
            .field("binary", &self.binary)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("memory_mb", &self.memory_mb)
            .field("region", &self.region)
            .finish()
    }
}

impl FunctionConfig {
    /// A function `name` running `binary`, 128 MB, in `us-east-1`.
    pub fn new(name: impl Into<String>, binary: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            binary: binary.into(),
            env: BTreeMap::new(),
            memory_mb: 128,
            region: "us-east-1".into(),
        }
    }

    /// Adds one of the function's environment variables.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }

    /// Adds several of the function's environment variables.
    pub fn envs<K: Into<String>, V: Into<String>>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Self {
        self.env.extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Sets the memory size.
    pub fn memory_mb(mut self, memory_mb: u32) -> Self {
        self.memory_mb = memory_mb;
        self
    }

    /// Sets the region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// The binary as an absolute path: the process starts in the binary's directory (as Lambda
    /// starts in `LAMBDA_TASK_ROOT`), where a relative path would no longer resolve.
    pub fn program(&self) -> PathBuf {
        std::path::absolute(&self.binary).unwrap_or_else(|_| self.binary.clone())
    }

    /// The process environment, built from nothing (the host's own variables, its AWS profile
    /// included, never leak in): Lambda's defaults, then the function's variables, then the
    /// variables Lambda reserves, which the function cannot override.
    pub(super) fn variables(&self, api: SocketAddr, generation: u64) -> BTreeMap<String, String> {
        let task_root = self.program().parent().map(|p| p.display().to_string()).unwrap_or_default();
        let mut vars: BTreeMap<String, String> = [
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
            ("LANG", "en_US.UTF-8".to_owned()),
            ("TZ", ":UTC".to_owned()),
            ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        vars.extend(self.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        let reserved = [
            ("AWS_LAMBDA_RUNTIME_API", api.to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", self.name.clone()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", self.memory_mb.to_string()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", self.name)),
            ("AWS_LAMBDA_LOG_STREAM_NAME", format!("local/[$LATEST]{generation:032x}")),
            ("AWS_REGION", self.region.clone()),
            ("AWS_DEFAULT_REGION", self.region.clone()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            // No profile file may redirect the SDK (endpoints, credentials) behind the host's back.
            ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_owned()),
            ("LAMBDA_TASK_ROOT", task_root),
            ("_HANDLER", "bootstrap".to_owned()),
        ];
        vars.extend(reserved.into_iter().map(|(k, v)| (k.to_owned(), v)));
        vars.extend(FAKE_CREDENTIALS.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        vars
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_variables_win_and_secrets_stay_out_of_debug() {
        let config = FunctionConfig::new("f", "/opt/fn/bootstrap")
            .env("AWS_LAMBDA_RUNTIME_API", "evil:1")
            .env("AWS_LAMBDA_LOG_FORMAT", "Text")
            .env("OBO_CLIENT_SECRET", "s3cr3t-value");
        let vars = config.variables("127.0.0.1:9001".parse().unwrap(), 1);
        assert_eq!(vars["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001");
        assert_eq!(vars["AWS_LAMBDA_LOG_FORMAT"], "Text");
        assert_eq!(vars["AWS_EC2_METADATA_DISABLED"], "true");
        assert_eq!(vars["LAMBDA_TASK_ROOT"], "/opt/fn");
        assert!(!format!("{config:?}").contains("s3cr3t-value"));
        let relative = FunctionConfig::new("f", "target/debug/bootstrap").program();
        assert!(relative.is_absolute() && relative.ends_with("target/debug/bootstrap"));
    }
}
