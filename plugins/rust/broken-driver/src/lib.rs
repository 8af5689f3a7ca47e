//! Test fixture: the file driver (`file:///DIR`) with one rule broken on purpose, so that
//! `roster plugin conformance` can be seen to fail and to name the test that caught it.
//!
//! The broken rule: leaving a group one has not joined succeeds, where every backend answers
//! `member-not-joined` (caught by `conformance::leave_group_not_joined_is_member_not_joined`).
//! Everything else is the file driver's own code, compiled in from `../file-driver/src`, with
//! every other call passed through unchanged.

#[path = "../../file-driver/src/files.rs"]
mod files;
#[path = "../../file-driver/src/model.rs"]
mod model;
#[path = "../../file-driver/src/store.rs"]
mod store;

pub use driver_kit::{exports, roster};
pub(crate) use driver_kit::{now_ms, random, random_hex};

use driver_kit::Driver;
use exports::roster::coordination::backend::{
    Feed, GroupSummary, LockAttempt, LockStanding, SessionKey, StoreInfo,
};
use roster::coordination::types::{CoordinationError, Leader, LockInfo, LockMode, MemberInfo};

type Result<T> = std::result::Result<T, CoordinationError>;

/// Log a warning through the host.
pub(crate) fn log_warn(message: &str) {
    driver_kit::log_warn("broken-driver", message);
}

/// The file driver's store, with `leave` broken.
struct Broken(store::Store);

impl Driver for Broken {
    const NAME: &'static str = "broken-driver";

    fn open(options: &[(String, String)]) -> Result<Self> {
        store::Store::open(options).map(Self)
    }

    /// The broken rule: `member-not-joined` becomes a success at the store's head.
    fn leave(&mut self, session: &str, group: &str) -> Result<u64> {
        match self.0.leave(session, group) {
            Err(CoordinationError::MemberNotJoined(_)) => self.0.head(),
            answer => answer,
        }
    }

    fn describe(&mut self) -> Result<StoreInfo> {
        self.0.describe()
    }
    fn head(&mut self) -> Result<u64> {
        self.0.head()
    }
    fn open_session(&mut self, member: &str, ttl_ms: u64) -> Result<SessionKey> {
        self.0.open_session(member, ttl_ms)
    }
    fn close_session(&mut self, session: &str) -> Result<u64> {
        self.0.close_session(session)
    }
    fn heartbeat(&mut self, session: &str) -> Result<u64> {
        self.0.heartbeat(session)
    }
    fn create_group(&mut self, group: &str) -> Result<u64> {
        self.0.create_group(group)
    }
    fn delete_group(&mut self, group: &str) -> Result<u64> {
        self.0.delete_group(group)
    }
    fn groups(&mut self) -> Result<Vec<String>> {
        self.0.groups()
    }
    fn group_summaries(&mut self) -> Result<(u64, Vec<GroupSummary>)> {
        self.0.group_summaries()
    }
    fn join(
        &mut self,
        session: &str,
        group: &str,
        capabilities: &[u8],
        create: bool,
    ) -> Result<u64> {
        self.0.join(session, group, capabilities, create)
    }
    fn update_capabilities(
        &mut self,
        session: &str,
        group: &str,
        capabilities: &[u8],
    ) -> Result<u64> {
        self.0.update_capabilities(session, group, capabilities)
    }
    fn get_members(&mut self, group: &str) -> Result<Vec<String>> {
        self.0.get_members(group)
    }
    fn get_members_info(&mut self, group: &str) -> Result<Vec<(String, MemberInfo)>> {
        self.0.get_members_info(group)
    }
    fn get_member_info(&mut self, group: &str, member: &str) -> Result<MemberInfo> {
        self.0.get_member_info(group, member)
    }
    fn get_leader(&mut self, group: &str) -> Result<Option<Leader>> {
        self.0.get_leader(group)
    }
    fn stand(&mut self, session: &str, group: &str) -> Result<u64> {
        self.0.stand(session, group)
    }
    fn withdraw(&mut self, session: &str, group: &str) -> Result<u64> {
        self.0.withdraw(session, group)
    }
    fn stand_down(&mut self, session: &str, group: &str) -> Result<(bool, u64)> {
        self.0.stand_down(session, group)
    }
    fn changes(&mut self, after: u64, max: u32, wait_ms: u64) -> Result<Feed> {
        self.0.changes(after, max, wait_ms)
    }
    fn acquire_lock(
        &mut self,
        session: &str,
        lock: &str,
        mode: LockMode,
        wait: bool,
    ) -> Result<(LockAttempt, u64)> {
        self.0.acquire_lock(session, lock, mode, wait)
    }
    fn release_lock(&mut self, session: &str, lock: &str) -> Result<(Option<u64>, u64)> {
        self.0.release_lock(session, lock)
    }
    fn abandon_lock_wait(&mut self, session: &str, lock: &str) -> Result<(Option<u64>, u64)> {
        self.0.abandon_lock_wait(session, lock)
    }
    fn break_lock(&mut self, session: &str, lock: &str) -> Result<(Vec<u64>, u64)> {
        self.0.break_lock(session, lock)
    }
    fn lock_standing(&mut self, session: &str, lock: &str) -> Result<LockStanding> {
        self.0.lock_standing(session, lock)
    }
    fn get_lock(&mut self, lock: &str) -> Result<LockInfo> {
        self.0.get_lock(lock)
    }
    fn get_locks(&mut self) -> Result<Vec<LockInfo>> {
        self.0.get_locks()
    }
}

driver_kit::export_driver!(Broken);
