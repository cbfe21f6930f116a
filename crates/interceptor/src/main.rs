// Placeholder: replaced by the interceptor work in progress.
fn main() {}
