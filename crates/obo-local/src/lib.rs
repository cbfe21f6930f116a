//! The local stack: the whole on-behalf-of flow on one machine, with the real Lambda binaries.

pub mod invoke;
