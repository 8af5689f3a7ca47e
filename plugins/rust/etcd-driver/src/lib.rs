//! Roster's etcd backend driver: groups, members, sessions and elections kept in etcd v3,
//! with the same rules as the embedded backend, for every host that names the same
//! `etcd3+http://HOST:PORT` and namespace.
//!
//! etcd is reached through its v3 JSON gateway over HTTP/1.1. Each operation works on one
//! revision of the store (for a writer, usually what its previous transaction left, with no
//! read at all) and commits its writes in one etcd transaction that checks nothing it used
//! has changed since (else it runs again on what the failed commit read back), so it is
//! atomic however many hosts share the cluster. The change history is one key per
//! revision; `changes` takes new ones from a watch. See README.md for the design and the
//! key layout.

wit_bindgen::generate!({ path: "../../../wit", world: "roster:coordination/driver" });

mod etcd;
mod http;
mod keys;
mod model;
mod store;
#[cfg(test)]
mod tests;
mod tx;

use std::cell::RefCell;

use exports::roster::coordination::backend::{Feed, GroupSummary, Guest, SessionKey, StoreInfo};
use roster::coordination::types::{CoordinationError, Leader, MemberInfo};

use store::Store;

type Result<T> = std::result::Result<T, CoordinationError>;

thread_local! {
    /// The instance's store, once `open` has connected it.
    static STORE: RefCell<Option<Store>> = const { RefCell::new(None) };
}

fn with_store<T>(call: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
    STORE.with_borrow_mut(|store| match store {
        Some(store) => call(store),
        None => Err(CoordinationError::Connection(
            "the etcd driver was called before open".into(),
        )),
    })
}

/// Log a warning through the host (a line on stderr where there is no host: native tests).
pub(crate) fn log_warn(message: &str) {
    #[cfg(target_arch = "wasm32")]
    roster::coordination::logging::log(roster::coordination::logging::Level::Warn, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("etcd-driver: {message}");
}

struct EtcdDriver;

impl Guest for EtcdDriver {
    fn open(options: Vec<(String, String)>) -> Result<()> {
        let store = Store::open(&options)?;
        STORE.with_borrow_mut(|slot| *slot = Some(store));
        Ok(())
    }

    fn describe() -> Result<StoreInfo> {
        with_store(Store::describe)
    }

    fn head() -> Result<u64> {
        with_store(Store::head)
    }

    fn open_session(member: String, ttl_ms: u64) -> Result<SessionKey> {
        with_store(|s| s.open_session(&member, ttl_ms))
    }

    fn close_session(session: SessionKey) -> Result<u64> {
        with_store(|s| s.close_session(&session))
    }

    fn heartbeat(session: SessionKey) -> Result<u64> {
        with_store(|s| s.heartbeat(&session))
    }

    fn create_group(group: String) -> Result<u64> {
        with_store(|s| s.create_group(&group))
    }

    fn delete_group(group: String) -> Result<u64> {
        with_store(|s| s.delete_group(&group))
    }

    fn groups() -> Result<Vec<String>> {
        with_store(Store::groups)
    }

    fn group_summaries() -> Result<(u64, Vec<GroupSummary>)> {
        with_store(Store::group_summaries)
    }

    fn join(
        session: SessionKey,
        group: String,
        capabilities: Vec<u8>,
        create: bool,
    ) -> Result<u64> {
        with_store(|s| s.join(&session, &group, &capabilities, create))
    }

    fn leave(session: SessionKey, group: String) -> Result<u64> {
        with_store(|s| s.leave(&session, &group))
    }

    fn update_capabilities(
        session: SessionKey,
        group: String,
        capabilities: Vec<u8>,
    ) -> Result<u64> {
        with_store(|s| s.update_capabilities(&session, &group, &capabilities))
    }

    fn get_members(group: String) -> Result<Vec<String>> {
        with_store(|s| s.get_members(&group))
    }

    fn get_members_info(group: String) -> Result<Vec<(String, MemberInfo)>> {
        with_store(|s| s.get_members_info(&group))
    }

    fn get_member_info(group: String, member: String) -> Result<MemberInfo> {
        with_store(|s| s.get_member_info(&group, &member))
    }

    fn get_leader(group: String) -> Result<Option<Leader>> {
        with_store(|s| s.get_leader(&group))
    }

    fn stand(session: SessionKey, group: String) -> Result<u64> {
        with_store(|s| s.stand(&session, &group))
    }

    fn withdraw(session: SessionKey, group: String) -> Result<u64> {
        with_store(|s| s.withdraw(&session, &group))
    }

    fn stand_down(session: SessionKey, group: String) -> Result<(bool, u64)> {
        with_store(|s| s.stand_down(&session, &group))
    }

    fn changes(after: u64, max: u32, wait_ms: u64) -> Result<Feed> {
        with_store(|s| s.changes(after, max, wait_ms))
    }
}

export!(EtcdDriver);
