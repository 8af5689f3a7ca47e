//! The conformance suite on the embedded backend in real time, every time span scaled to a
//! tenth: the arm a backend in another process runs (`conformance_suite!(real_time: ...)`),
//! checked where it is cheapest. About 6 s, most of it one test's minute of heartbeats.

use roster_tests::{Harness, conformance_suite};

conformance_suite!(real_time: Harness::memory("").real_time(0.1));

mod locks {
    use roster_tests::{Harness, conformance_suite};

    conformance_suite!(locks real_time: Harness::memory("").real_time(0.1));
}
