//! Ingest and config throughput against a no-op route (written in the benchmark step).

fn main() {}
