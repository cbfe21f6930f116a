//! Reading configuration from environment variables: an injectable source, and parsers whose
//! errors name the variable and the problem (never a secret value).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// Where configuration values come from: the process environment, or a map in tests.
pub trait EnvSource {
    /// The value of `name`, if set. Empty values count as unset.
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl EnvSource for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).filter(|v| !v.trim().is_empty()).cloned()
    }
}

impl EnvSource for HashMap<&str, &str> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).filter(|v| !v.trim().is_empty()).map(|v| (*v).to_owned())
    }
}

/// A configuration error: which variable, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The variable's name.
    pub variable: String,
    /// What is wrong, in words (never the value of a secret).
    pub problem: String,
}

impl ConfigError {
    /// An error for `variable`.
    pub fn new(variable: impl Into<String>, problem: impl Into<String>) -> Self {
        Self { variable: variable.into(), problem: problem.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}: {}", self.variable, self.problem)
    }
}

/// Typed reads from an [`EnvSource`].
pub struct Env<'a> {
    source: &'a dyn EnvSource,
}

impl<'a> Env<'a> {
    /// Reads from `source`.
    pub fn new(source: &'a dyn EnvSource) -> Self {
        Self { source }
    }

    /// The trimmed value, if set.
    pub fn string(&self, name: &str) -> Option<String> {
        self.source.get(name).map(|v| v.trim().to_owned())
    }

    /// A comma-separated list; blank items are dropped; duplicates are an error.
    pub fn list(&self, name: &str) -> Result<Vec<String>, ConfigError> {
        let Some(raw) = self.string(name) else {
            return Ok(Vec::new());
        };
        let mut out: Vec<String> = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if out.iter().any(|seen| seen == item) {
                return Err(ConfigError::new(name, format!("lists {item:?} twice")));
            }
            out.push(item.to_owned());
        }
        Ok(out)
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`), or `default` when unset.
    pub fn bool(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.string(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(other) => Err(ConfigError::new(name, format!("must be true or false, not {other:?}"))),
        }
    }

    /// A whole number within `min..=max`, or `default` when unset.
    pub fn number<T>(&self, name: &str, default: T, min: T, max: T) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + fmt::Display + Copy,
    {
        let Some(raw) = self.string(name) else {
            return Ok(default);
        };
        match raw.parse::<T>() {
            Ok(v) if v >= min && v <= max => Ok(v),
            _ => Err(ConfigError::new(
                name,
                format!("must be a whole number from {min} to {max}, not {raw:?}"),
            )),
        }
    }

    /// An optional whole number within `min..=max`.
    pub fn optional_number<T>(&self, name: &str, min: T, max: T) -> Result<Option<T>, ConfigError>
    where
        T: FromStr + PartialOrd + fmt::Display + Copy,
    {
        if self.string(name).is_none() {
            return Ok(None);
        }
        self.number(name, min, min, max).map(Some)
    }

    /// One of `choices` (case-insensitive), or `default` when unset.
    pub fn choice(
        &self,
        name: &str,
        default: &'static str,
        choices: &[&'static str],
    ) -> Result<&'static str, ConfigError> {
        let Some(raw) = self.string(name) else {
            return Ok(default);
        };
        choices.iter().copied().find(|c| c.eq_ignore_ascii_case(&raw)).ok_or_else(|| {
            ConfigError::new(name, format!("must be one of {}, not {raw:?}", choices.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&'static str, &'static str)]) -> HashMap<&'static str, &'static str> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn lists_trim_and_refuse_duplicates() {
        let src = env(&[("A", " x, y ,,z "), ("B", "x,x")]);
        let e = Env::new(&src);
        assert_eq!(e.list("A").unwrap(), ["x", "y", "z"]);
        assert!(e.list("B").unwrap_err().to_string().contains("B: lists \"x\" twice"));
        assert!(e.list("C").unwrap().is_empty());
    }

    #[test]
    fn numbers_and_bools_name_the_variable() {
        let src = env(&[("N", "500"), ("F", "maybe"), ("OK", "42")]);
        let e = Env::new(&src);
        let err = e.number::<u64>("N", 30, 0, 300).unwrap_err();
        assert_eq!(err.variable, "N");
        assert!(err.problem.contains("0 to 300"));
        assert_eq!(e.number::<u64>("OK", 30, 0, 300).unwrap(), 42);
        assert_eq!(e.number::<u64>("MISSING", 30, 0, 300).unwrap(), 30);
        assert!(e.bool("F", true).is_err());
        assert!(e.bool("MISSING", true).unwrap());
    }
}
