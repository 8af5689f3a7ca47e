//! The conformance suite on `redis://`: the built-in Redis driver against a real
//! `redis-server`, in real time (scaled), each test in a namespace of its own.

use roster_tests::{Harness, ServerHarness, conformance_suite};

conformance_suite!(real_time: Harness::redis(0.1));

/// The lock suite: the Redis driver keeps locks in Lua scripts, as the shared rules state them.
mod locks {
    use roster_tests::{Harness, ServerHarness, conformance_suite};

    conformance_suite!(locks real_time: Harness::redis(0.1));
}
