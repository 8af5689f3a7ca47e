//! The driver's operations against a real Redis server, natively (the same code the
//! component runs, minus the host): the scenarios every server driver passes
//! (`driver_kit::scenarios`), then what is Redis's own. Set `ROSTER_TEST_REDIS=HOST:PORT` to
//! run them, for example with a throwaway server:
//!
//! ```text
//! redis-server --port 26379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes
//! ROSTER_TEST_REDIS=127.0.0.1:26379 cargo test --target x86_64-unknown-linux-gnu -p redis-driver
//! ```
//!
//! Without it every test returns at once. Each test uses a namespace of its own.

use std::time::Duration;

use driver_kit::scenarios::{Harness, address_from, options};

use driver_kit::Driver;

use crate::conn::Conn;
use crate::store::Store;

/// The Redis server of `ROSTER_TEST_REDIS`, its stores calling the operations as functions
/// (`RedisWith<true>`, as on Redis 7 and later) or as scripts (`RedisWith<false>`, as on a
/// server before Redis 7).
struct RedisWith<const FUNCTIONS: bool>;

type Redis = RedisWith<true>;

impl<const FUNCTIONS: bool> Harness for RedisWith<FUNCTIONS> {
    type Store = Store;

    fn address() -> Option<String> {
        address_from("ROSTER_TEST_REDIS")
    }

    fn open(address: &str, namespace: &str, extra: &[(&str, &str)]) -> Store {
        Store::connect(&options(address, namespace, extra), FUNCTIONS).unwrap()
    }

    /// Every key of the namespace goes, by one script.
    fn flush(address: &str, namespace: &str) {
        let mut conn = Conn::new(address.to_owned());
        let script = b"for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end";
        let pattern = format!("{{{namespace}}}:*");
        conn.request(&[b"EVAL", script, b"0", pattern.as_bytes()], Duration::ZERO)
            .unwrap();
    }
}

driver_kit::server_scenarios!(Redis);

/// The same scenarios with the operations called as scripts, as on a server before Redis 7.
mod as_scripts {
    use super::*;

    type RedisScripts = RedisWith<false>;

    driver_kit::server_scenarios!(RedisScripts);

    #[test]
    fn scripts_come_back_after_the_server_forgets_them() {
        let Some(address) = RedisScripts::address() else {
            return;
        };
        let ns = RedisScripts::namespace();
        let mut st = RedisScripts::open(&address, &ns, &[]);
        assert!(!st.calls_functions());
        assert_eq!(st.create_group("a").unwrap(), 1);
        let mut conn = Conn::new(address.clone());
        conn.request(&[b"SCRIPT", b"FLUSH"], Duration::ZERO)
            .unwrap();
        assert_eq!(st.create_group("b").unwrap(), 2);
        assert_eq!(st.groups().unwrap(), ["a", "b"]);
        RedisScripts::flush(&address, &ns);
    }
}

#[test]
fn a_new_store_id_after_the_data_is_gone_and_functions_come_back() {
    let Some(address) = Redis::address() else {
        return;
    };
    let ns = Redis::namespace();
    let mut st = Redis::open(&address, &ns, &[]);
    assert!(
        st.calls_functions(),
        "a server with functions runs the library"
    );
    let first = st.describe().unwrap().store_id;
    st.create_group("g").unwrap();
    assert_eq!(st.describe().unwrap().store_id, first, "stable");
    Redis::flush(&address, &ns);
    let again = st.describe().unwrap();
    assert_ne!(again.store_id, first);
    assert_eq!((again.head, again.groups.len()), (0, 0));
    // The server forgets its functions: the library is loaded again.
    let mut conn = Conn::new(address.clone());
    conn.request(&[b"FUNCTION", b"FLUSH"], Duration::ZERO)
        .unwrap();
    assert_eq!(st.create_group("g").unwrap(), 1);
    // The server drops the connection: the next call reconnects.
    let local = st.local_address().unwrap();
    let killed = conn
        .request(
            &[b"CLIENT", b"KILL", b"ADDR", local.as_bytes()],
            Duration::ZERO,
        )
        .unwrap();
    assert_eq!(killed, redis_protocol::resp2::types::OwnedFrame::Integer(1));
    assert_eq!(st.groups().unwrap(), ["g"]);
    Redis::flush(&address, &ns);
}
