//! Structured logs that honour Lambda's advanced logging controls (`AWS_LAMBDA_LOG_FORMAT=JSON`,
//! `AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG`), with one safety net: crates that log raw events or
//! HTTP bodies at DEBUG/TRACE (`lambda_runtime` logs the whole event, tokens included) are capped
//! at INFO whatever the variables say.

use tracing::{Level, Metadata};
use tracing_subscriber::filter::{EnvFilter, FilterExt, LevelFilter, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// Log targets never allowed below INFO: they may print events, headers or bodies.
pub(crate) const CAPPED_TARGETS: &[&str] = &[
    "lambda_runtime",
    "hyper",
    "reqwest",
    "aws_smithy",
    "aws_sdk",
    "aws_config",
    "h2",
    "rustls",
    "tower",
    "rmcp",
    "axum",
];

/// Whether a log record may be written (the cap on noisy crates).
pub(crate) fn allowed_by_cap(meta: &Metadata<'_>) -> bool {
    *meta.level() <= Level::INFO || !CAPPED_TARGETS.iter().any(|t| meta.target().starts_with(t))
}

/// Installs the global subscriber writing to stdout (Lambda sends stdout to CloudWatch).
pub fn init() {
    init_with_writer(std::io::stdout);
}

/// Installs the global subscriber with a custom writer (tests capture logs with it).
pub fn init_with_writer<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let _ = build(writer).try_init();
}

fn level_directive() -> String {
    let raw =
        std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_default();
    match raw.trim().to_ascii_lowercase().as_str() {
        "" => "info".into(),
        "fatal" => "error".into(),
        other => other.into(),
    }
}

fn build<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let level =
        EnvFilter::builder().with_default_directive(LevelFilter::INFO.into()).parse_lossy(level_directive());
    let filter = level.and(filter_fn(allowed_by_cap));
    let base = tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(false);
    let layer = if json {
        base.json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter)
            .boxed()
    } else {
        base.without_time().with_filter(filter).boxed()
    };
    Registry::default().with(layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_noisy_crates_below_info() {
        use tracing::callsite::Identifier;
        struct Cs;
        impl tracing::Callsite for Cs {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                unimplemented!()
            }
        }
        static CS: Cs = Cs;
        let meta = |target: &'static str, level| {
            Metadata::new(
                "e",
                target,
                level,
                None,
                None,
                None,
                tracing::field::FieldSet::new(&[], Identifier(&CS)),
                tracing::metadata::Kind::EVENT,
            )
        };
        assert!(!allowed_by_cap(&meta("lambda_runtime::layers::api_response", Level::TRACE)));
        assert!(!allowed_by_cap(&meta("lambda_runtime_api_client", Level::DEBUG)));
        assert!(!allowed_by_cap(&meta("aws_smithy_runtime::client", Level::DEBUG)));
        assert!(allowed_by_cap(&meta("lambda_runtime", Level::INFO)));
        assert!(allowed_by_cap(&meta("obo_core::trigger", Level::TRACE)));
    }
}
