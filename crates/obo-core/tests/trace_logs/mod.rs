//! For the tests that prove no token reaches the logs: the process-wide subscriber, as Lambda
//! configures it at its most verbose (JSON, TRACE), writing into a capture.

use obo_testkit::capture::Capture;

/// Installs the subscriber at TRACE with JSON lines and returns what it writes. Call it once, in
/// a test binary holding a single test: it sets the process environment.
pub fn capture_json_at_trace() -> Capture {
    // SAFETY: the calling test binary runs this one test, so no other thread reads the environment.
    unsafe {
        std::env::set_var("AWS_LAMBDA_LOG_LEVEL", "TRACE");
        std::env::set_var("AWS_LAMBDA_LOG_FORMAT", "JSON");
    }
    let capture = Capture::default();
    let writer = capture.clone();
    obo_core::logging::init_with_writer(move || writer.clone());
    capture
}
