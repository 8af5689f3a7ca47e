//! The conformance suite on `file://`: the built-in file driver on a temporary directory of
//! its own per test, in real time (scaled). Several hosts sharing one directory are in
//! `multi_host.rs`, with the servers.

use roster_tests::{Harness, ServerHarness, conformance_suite};

conformance_suite!(real_time: Harness::file(0.1));

/// The lock suite: the file driver keeps locks with the shared rules, in its state file.
mod locks {
    use roster_tests::{Harness, ServerHarness, conformance_suite};

    conformance_suite!(locks real_time: Harness::file(0.1));
}
