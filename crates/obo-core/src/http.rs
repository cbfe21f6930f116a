//! The one outbound HTTP client: rustls, no redirects, capped bodies, per-request deadlines, and
//! https only (plain http is allowed for loopback hosts, for local runs and tests).

use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderMap;

/// Why an outbound request failed. Messages hold no request bodies or credentials.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL is not https (and not loopback http), or is not a URL.
    #[error("URL not allowed: {0}")]
    UrlNotAllowed(String),
    /// The deadline passed before the response was read.
    #[error("timed out")]
    Timeout,
    /// No connection could be made.
    #[error("connection failed")]
    Connect,
    /// The response body exceeded the cap.
    #[error("response body larger than {0} bytes")]
    BodyTooLarge(usize),
    /// Any other transport failure.
    #[error("transport error: {0}")]
    Transport(String),
}

impl HttpError {
    fn from_reqwest(err: reqwest::Error) -> Self {
        if err.is_timeout() {
            Self::Timeout
        } else if err.is_connect() {
            Self::Connect
        } else {
            // Without the URL: it may carry query parameters.
            Self::Transport(err.without_url().to_string())
        }
    }
}

/// A response read to the end (within the cap).
#[derive(Debug)]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

/// Checks that `raw` is an absolute https URL, or http on a loopback host, without userinfo.
pub fn checked_url(raw: &str) -> Result<Url, HttpError> {
    let url = Url::parse(raw).map_err(|_| HttpError::UrlNotAllowed(format!("{raw:?} is not a URL")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(HttpError::UrlNotAllowed("URL must not carry credentials".into()));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err(HttpError::UrlNotAllowed(format!(
            "{raw:?} must use https (plain http only on a loopback host)"
        ))),
    }
}

/// Whether the URL's host is a loopback address or `localhost`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Which certificate authorities outbound https trusts (`OBO_TLS_ROOTS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsRoots {
    /// Mozilla's root store, compiled in (`webpki-roots`): the browsers' trust, the same in every
    /// environment, and nothing to read at cold start.
    #[default]
    Mozilla,
    /// The operating system's store (`SSL_CERT_FILE`, `/etc/pki`, …), for private CAs. Reading and
    /// parsing every system certificate costs about 1.5 ms of cold start.
    System,
}

impl TlsRoots {
    /// Reads `OBO_TLS_ROOTS` (`mozilla`, the default, or `system`).
    pub fn from_env(env: &crate::env::Env<'_>) -> Result<Self, crate::env::ConfigError> {
        Ok(match env.choice("OBO_TLS_ROOTS", "mozilla", &["mozilla", "system"])? {
            "system" => Self::System,
            _ => Self::Mozilla,
        })
    }
}

/// A shared HTTP client; clone it freely (connections are pooled and reused across invocations).
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
}

impl HttpClient {
    /// A client trusting Mozilla's roots, with the given connect timeout; each request also gets
    /// its own deadline.
    pub fn new(connect_timeout: Duration) -> Result<Self, HttpError> {
        Self::with_roots(connect_timeout, TlsRoots::Mozilla)
    }

    /// A client trusting `roots`.
    pub fn with_roots(connect_timeout: Duration, roots: TlsRoots) -> Result<Self, HttpError> {
        let builder = match roots {
            TlsRoots::Mozilla => {
                let store = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
                let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
                let tls = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| HttpError::Transport(e.to_string()))?
                    .with_root_certificates(store)
                    .with_no_client_auth();
                reqwest::Client::builder().tls_backend_preconfigured(tls)
            }
            TlsRoots::System => reqwest::Client::builder(),
        };
        let client = builder
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(50))
            .user_agent(concat!("cognito-obo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::Transport(e.without_url().to_string()))?;
        Ok(Self { client })
    }

    /// `GET url` with an `Accept: application/json` header.
    pub async fn get(&self, url: &Url, deadline: Duration, cap: usize) -> Result<HttpResponse, HttpError> {
        let request = self.client.get(url.clone()).header("accept", "application/json").timeout(deadline);
        Self::read(request, cap).await
    }

    /// `POST url` with a form body and extra headers (e.g. HTTP Basic client authentication).
    pub async fn post_form(
        &self,
        url: &Url,
        headers: HeaderMap,
        form_body: String,
        deadline: Duration,
        cap: usize,
    ) -> Result<HttpResponse, HttpError> {
        let request = self
            .client
            .post(url.clone())
            .headers(headers)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(form_body)
            .timeout(deadline);
        Self::read(request, cap).await
    }

    async fn read(request: reqwest::RequestBuilder, cap: usize) -> Result<HttpResponse, HttpError> {
        let mut response = request.send().await.map_err(HttpError::from_reqwest)?;
        if response.content_length().is_some_and(|len| len > cap as u64) {
            return Err(HttpError::BodyTooLarge(cap));
        }
        let status = response.status().as_u16();
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(HttpError::from_reqwest)? {
            if body.len() + chunk.len() > cap {
                return Err(HttpError::BodyTooLarge(cap));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse { status, headers, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(checked_url("https://cognito-idp.us-east-1.amazonaws.com/x").is_ok());
        assert!(checked_url("http://127.0.0.1:8080/x").is_ok());
        assert!(checked_url("http://localhost:1/x").is_ok());
        assert!(checked_url("http://[::1]:1/x").is_ok());
        assert!(checked_url("http://example.com/x").is_err());
        assert!(checked_url("http://127.0.0.1.nip.io/x").is_err());
        assert!(checked_url("https://user:pw@example.com/").is_err());
        assert!(checked_url("file:///etc/passwd").is_err());
        assert!(checked_url("not a url").is_err());
    }
}
