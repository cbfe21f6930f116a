//! What a hosted function wrote: every line of its stdout and stderr, plus the host's own
//! `START` / `END` / `REPORT` lines, kept in order for tests and the demo transcript and sent to
//! live followers.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::broadcast;

/// Lines kept per function; older ones are dropped first (a long `obo-local up` session).
const MAX_LINES: usize = 50_000;
/// Longer lines are cut here, on a character boundary.
const MAX_LINE_BYTES: usize = 64 * 1024;

/// Where a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogStream {
    /// The function's standard output (where Lambda functions log).
    Stdout,
    /// The function's standard error.
    Stderr,
    /// The host itself, in the style of Lambda's platform lines (`START RequestId: …`).
    Platform,
}

/// One captured line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Where it came from.
    pub stream: LogStream,
    /// The line, without its line break.
    pub text: String,
}

#[derive(Default)]
struct Kept {
    lines: VecDeque<LogLine>,
    /// How many lines were dropped from the front (so that positions stay absolute).
    dropped: usize,
}

/// The captured lines of one function, across all of its processes.
pub(super) struct LogBuffer {
    kept: Mutex<Kept>,
    live: broadcast::Sender<LogLine>,
}

impl LogBuffer {
    pub(super) fn new() -> Self {
        Self { kept: Mutex::default(), live: broadcast::channel(1024).0 }
    }

    pub(super) fn push(&self, stream: LogStream, mut text: String) {
        if text.len() > MAX_LINE_BYTES {
            let mut cut = MAX_LINE_BYTES;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        let line = LogLine { stream, text };
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.lines.len() == MAX_LINES {
            kept.lines.pop_front();
            kept.dropped += 1;
        }
        kept.lines.push_back(line.clone());
        // Sent under the lock so that followers see lines in the same order as `since`.
        let _ = self.live.send(line);
    }

    /// Lines from absolute position `from` on (positions count dropped lines too).
    pub(super) fn since(&self, from: usize) -> Vec<LogLine> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let skip = from.saturating_sub(kept.dropped);
        kept.lines.iter().skip(skip).cloned().collect()
    }

    /// The absolute position after the last line.
    pub(super) fn end(&self) -> usize {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.dropped + kept.lines.len()
    }

    pub(super) fn follow(&self) -> broadcast::Receiver<LogLine> {
        self.live.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_absolute_positions() {
        let logs = LogBuffer::new();
        logs.push(LogStream::Stdout, "a".into());
        let mark = logs.end();
        logs.push(LogStream::Stderr, "b".into());
        assert_eq!(logs.since(0).len(), 2);
        assert_eq!(logs.since(mark), vec![LogLine { stream: LogStream::Stderr, text: "b".into() }]);
        assert!(logs.since(5).is_empty());
    }

    #[test]
    fn cuts_long_lines_on_a_char_boundary() {
        let logs = LogBuffer::new();
        logs.push(LogStream::Stdout, "é".repeat(MAX_LINE_BYTES));
        let line = &logs.since(0)[0].text;
        assert!(line.len() <= MAX_LINE_BYTES);
        assert!(line.chars().all(|c| c == 'é'));
    }
}
