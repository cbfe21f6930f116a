//! `make bench`: the figures that show what cognito-obo costs in time, memory and money, each
//! beside a floor measured in the same run (a bare JWT decode, a hello-world Lambda, an ideal
//! cache), printed as one table and written as JSON (`target/bench/latest.json`).
//!
//! 1. [`criterion`]: the trigger's warm path and the interceptor's cache hit (in-process).
//! 2. [`cold_start`]: release binaries under the local Lambda Runtime API host.
//! 3. [`size`] and [`rss`]: arm64 binary sizes, the release profile, peak memory with a full cache.
//! 4. [`simulation`] over a fixed [`workload`] (with the [`shared_tier`] and each design's token
//!    requests per second, [`series`]), priced by [`cost`] into [`economics`] rows; tool-call
//!    [`latency`] through the local stack.
//! 5. [`load`]: concurrent MCP clients against the local stack.
//! 6. [`flat_memory`]: resident memory over a million invocations per function.
//!
//! Caches are per Lambda execution environment: every hit rate and cost here says so.

pub mod charts;
pub mod cold_start;
pub mod cost;
pub mod criterion;
pub mod economics;
pub mod fixture;
pub mod flat_memory;
pub mod latency;
pub mod load;
pub mod machine;
pub mod quota;
pub mod report;
pub mod rss;
pub mod series;
pub mod shared_tier;
pub mod simulation;
pub mod size;
pub mod sweep;
pub mod workload;
