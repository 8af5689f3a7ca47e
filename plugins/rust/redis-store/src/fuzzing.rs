//! What the driver reads from Redis, reachable without a server, for the fuzz targets in
//! `tests/fuzz` (feature `fuzzing`). Each function takes bytes as the server might send
//! them and must never panic.

use redis_protocol::resp2::decode::decode;

use crate::reply::{self, Reply};

/// `bytes` decoded as one RESP2 reply, as the connection decodes them, then read as every
/// kind of reply the scripts give: a change-log entry, a list of texts, a lock's standing,
/// a named error, and fields of every kind.
pub fn read_reply(bytes: &[u8]) {
    let Ok(Some((frame, _))) = decode(bytes) else {
        return;
    };
    let _ = reply::event(frame.clone(), "fuzz");
    if let Ok(reply) = Reply::new(frame.clone(), "fuzz") {
        let _ = reply.texts();
    }
    if let Ok(reply) = Reply::new(frame.clone(), "fuzz") {
        let _ = reply.lock_info();
    }
    if let Ok(reply) = Reply::new(frame.clone(), "fuzz") {
        let _ = reply.error();
    }
    if let Ok(mut reply) = Reply::new(frame, "fuzz") {
        let _ = reply.optional_text();
        let _ = reply.optional_number();
        let _ = reply.number();
        let _ = reply.mode();
        if let Ok(mut nested) = reply.nested() {
            let _ = nested.list();
        }
    }
}
