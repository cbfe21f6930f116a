//! Target-side validation (work in progress).
