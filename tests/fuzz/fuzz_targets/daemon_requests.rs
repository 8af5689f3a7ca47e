//! What a caller sends the daemon: every JSON body (`POST /v1/sessions`, joins, capability
//! updates, lock acquisitions and waits) and the query strings of `/v1/changes` and
//! `/v1/events`, read the way the daemon reads them (serde_json; serde_urlencoded, as axum's
//! `Query` does). Anything is read or refused, never a panic, and what is read encodes and
//! reads back as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_types::api::{
    AcquireLock, ChangesQuery, EventsQuery, Join, OpenSession, UpdateCapabilities, WaitForLock,
};

macro_rules! body {
    ($ty:ty, $data:expr) => {
        if let Ok(read) = serde_json::from_slice::<$ty>($data) {
            let json = serde_json::to_vec(&read).expect("a request encodes");
            let again: $ty = serde_json::from_slice(&json).expect("a request reads back");
            assert_eq!(again, read);
        }
    };
}

macro_rules! query {
    ($ty:ty, $data:expr) => {
        if let Ok(read) = serde_urlencoded::from_bytes::<$ty>($data) {
            let text = serde_urlencoded::to_string(&read).expect("a query encodes");
            let again: $ty = serde_urlencoded::from_str(&text).expect("a query reads back");
            assert_eq!(again, read);
        }
    };
}

fuzz_target!(|data: &[u8]| {
    body!(OpenSession, data);
    body!(Join, data);
    body!(UpdateCapabilities, data);
    body!(AcquireLock, data);
    body!(WaitForLock, data);
    query!(ChangesQuery, data);
    query!(EventsQuery, data);
});
