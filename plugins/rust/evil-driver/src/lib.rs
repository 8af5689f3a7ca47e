//! Test fixture: a backend driver that, when opened, tries to reach what its grant does not
//! cover, and fails `open` with a report of every attempt, so the host's tests can check
//! that the sandbox denied each one and allowed what the grant names.
//!
//! - With an `address` (a server URL): connects to it (allowed), then to every address listed
//!   in the `namespace` option, comma-separated (a fixture's way to be told where to try).
//! - With a `directory`: writes and reads a file in it (allowed), then reads `/etc/hostname`,
//!   escapes the directory with `..`, and connects to 127.0.0.1:6379.
//!
//! The report is `open`'s `connection` error: `what: ok` or `what: denied (error)`, joined
//! with `; `. Every other call is `not-implemented`.
//!
//! Told to fault instead (a `namespace` option naming a fault), `open` succeeds and `describe`,
//! the first call a coordinator makes, faults, so the host's tests can check that each kind
//! of driver fault is told apart:
//!
//! | `namespace`      | `describe`                                                  |
//! |------------------|-------------------------------------------------------------|
//! | `fault-trap`     | panics (a trap)                                             |
//! | `fault-spin`     | loops forever (a deadline overrun)                          |
//! | `fault-bad-data` | returns a group id with a control character (bad data)      |

wit_bindgen::generate!({ path: "../../../wit", world: "roster:coordination/driver" });

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;

use exports::roster::coordination::backend::{
    Feed, GroupSummary, Guest, LockAttempt, LockStanding, SessionKey, StoreInfo,
};
use roster::coordination::types::{CoordinationError, Leader, LockInfo, LockMode, MemberInfo};

type Result<T> = std::result::Result<T, CoordinationError>;

fn outcome<T, E: std::fmt::Debug>(what: &str, result: std::result::Result<T, E>) -> String {
    match result {
        Ok(_) => format!("{what}: ok"),
        Err(error) => format!("{what}: denied ({error:?})"),
    }
}

fn connect(address: &str) -> String {
    outcome(&format!("connect {address}"), TcpStream::connect(address))
}

fn report(options: &[(String, String)]) -> String {
    let option = |name: &str| {
        options
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut attempts = Vec::new();
    if let Some(address) = option("address") {
        attempts.push(connect(&address));
        for other in option("namespace").unwrap_or_default().split(',') {
            if !other.is_empty() {
                attempts.push(connect(other));
            }
        }
    }
    if let Some(dir) = option("directory") {
        let inside = format!("{dir}/probe");
        let roundtrip = std::fs::File::create(&inside)
            .and_then(|mut f| f.write_all(b"probe"))
            .and_then(|()| std::fs::File::open(&inside))
            .and_then(|mut f| {
                let mut text = String::new();
                f.read_to_string(&mut text).map(|_| text)
            });
        attempts.push(outcome(&format!("write and read {inside}"), roundtrip));
        attempts.push(outcome(
            "read /etc/hostname",
            std::fs::read("/etc/hostname"),
        ));
        attempts.push(outcome(
            &format!("read {dir}/../../etc/hostname"),
            std::fs::read(format!("{dir}/../../etc/hostname")),
        ));
        attempts.push(connect("127.0.0.1:6379"));
    }
    attempts.join("; ")
}

/// The fault `open` was told to make `describe` commit, if any (`fault-trap`, ...).
static FAULT: Mutex<Option<String>> = Mutex::new(None);

fn refused<T>(call: &str) -> Result<T> {
    Err(CoordinationError::NotImplemented(call.to_owned()))
}

struct Evil;

impl Guest for Evil {
    fn open(options: Vec<(String, String)>) -> Result<()> {
        let fault = options
            .iter()
            .find(|(k, v)| k == "namespace" && v.starts_with("fault-"))
            .map(|(_, v)| v.clone());
        if fault.is_some() {
            *FAULT.lock().unwrap_or_else(|p| p.into_inner()) = fault;
            return Ok(());
        }
        Err(CoordinationError::Connection(report(&options)))
    }
    fn describe() -> Result<StoreInfo> {
        let fault = FAULT.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match fault.as_deref() {
            Some("fault-trap") => panic!("evil-driver: trap on purpose"),
            Some("fault-spin") => loop {
                black_box(0u64);
            },
            Some("fault-bad-data") => Ok(StoreInfo {
                store_id: "evil".into(),
                head: 0,
                groups: vec!["bad\u{7}group".into()],
            }),
            _ => refused("describe"),
        }
    }
    fn head() -> Result<u64> {
        refused("head")
    }
    fn open_session(_: String, _: u64) -> Result<SessionKey> {
        refused("open-session")
    }
    fn close_session(_: SessionKey) -> Result<u64> {
        refused("close-session")
    }
    fn heartbeat(_: SessionKey) -> Result<u64> {
        refused("heartbeat")
    }
    fn create_group(_: String) -> Result<u64> {
        refused("create-group")
    }
    fn delete_group(_: String) -> Result<u64> {
        refused("delete-group")
    }
    fn groups() -> Result<Vec<String>> {
        refused("groups")
    }
    fn group_summaries() -> Result<(u64, Vec<GroupSummary>)> {
        refused("group-summaries")
    }
    fn join(_: SessionKey, _: String, _: Vec<u8>, _: bool) -> Result<u64> {
        refused("join")
    }
    fn leave(_: SessionKey, _: String) -> Result<u64> {
        refused("leave")
    }
    fn update_capabilities(_: SessionKey, _: String, _: Vec<u8>) -> Result<u64> {
        refused("update-capabilities")
    }
    fn get_members(_: String) -> Result<Vec<String>> {
        refused("get-members")
    }
    fn get_members_info(_: String) -> Result<Vec<(String, MemberInfo)>> {
        refused("get-members-info")
    }
    fn get_member_info(_: String, _: String) -> Result<MemberInfo> {
        refused("get-member-info")
    }
    fn get_leader(_: String) -> Result<Option<Leader>> {
        refused("get-leader")
    }
    fn stand(_: SessionKey, _: String) -> Result<u64> {
        refused("stand")
    }
    fn withdraw(_: SessionKey, _: String) -> Result<u64> {
        refused("withdraw")
    }
    fn stand_down(_: SessionKey, _: String) -> Result<(bool, u64)> {
        refused("stand-down")
    }
    fn changes(_: u64, _: u32, _: u64) -> Result<Feed> {
        refused("changes")
    }
    fn acquire_lock(_: SessionKey, _: String, _: LockMode, _: bool) -> Result<(LockAttempt, u64)> {
        refused("acquire-lock")
    }
    fn release_lock(_: SessionKey, _: String) -> Result<(Option<u64>, u64)> {
        refused("release-lock")
    }
    fn abandon_lock_wait(_: SessionKey, _: String) -> Result<(Option<u64>, u64)> {
        refused("abandon-lock-wait")
    }
    fn break_lock(_: SessionKey, _: String) -> Result<(Vec<u64>, u64)> {
        refused("break-lock")
    }
    fn get_lock_standing(_: SessionKey, _: String) -> Result<LockStanding> {
        refused("get-lock-standing")
    }
    fn get_lock(_: String) -> Result<LockInfo> {
        refused("get-lock")
    }
    fn get_locks() -> Result<Vec<LockInfo>> {
        refused("get-locks")
    }
}

export!(Evil);
