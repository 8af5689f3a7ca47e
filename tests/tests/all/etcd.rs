//! The conformance suite on `etcd3+http://`: the built-in etcd driver against a real
//! `etcd`, in real time (scaled), each test in a namespace of its own.

use roster_tests::{Harness, ServerHarness, conformance_suite};

conformance_suite!(real_time: Harness::etcd(0.1));

/// The lock suite: the etcd driver keeps locks in transactions, as the shared rules state
/// them.
mod locks {
    use roster_tests::{Harness, ServerHarness, conformance_suite};

    conformance_suite!(locks real_time: Harness::etcd(0.1));
}
