//! What the Redis driver reads from its server: any bytes are decoded as a RESP2 reply and
//! read as each kind of reply its scripts give, or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    redis_store::fuzzing::read_reply(data);
});
