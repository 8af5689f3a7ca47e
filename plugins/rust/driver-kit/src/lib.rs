//! What Roster's Rust driver guests share, so each driver crate holds only its store.
//!
//! - The bindings of the `roster:coordination/driver` world (`wit/driver.wit`), generated
//!   once here: a driver crate re-exports [`exports`] and [`roster`] and names the types as
//!   if it had generated them itself.
//! - [`Driver`], what every store offers, and [`export_driver!`]: the component's exports,
//!   each forwarded to the driver's store, which `open` makes and keeps for the instance's
//!   lifetime.
//! - The wall clock, randomness and a warning log that every driver needs, working natively
//!   too (for the drivers' own tests against real servers); the URL options; session keys
//!   that name their member and TTL.
//! - The host's vocabulary (`roster-types`: events, errors, records, event kinds, leave
//!   reasons and leadership ends) converted to the driver world's types, and read by the
//!   names change logs give it ([`by_name`]), for drivers that keep their state with the
//!   shared rules or name kinds and reasons with the host's enums; a change-log entry's
//!   parts and the event they make ([`Entry`]), for drivers that keep their own log.
//! - (feature `scenarios`, for the drivers' tests) the scenarios every server driver passes,
//!   written once over [`Driver`].

wit_bindgen::generate!({
    path: "../../../wit",
    world: "roster:coordination/driver",
    pub_export_macro: true,
    export_macro_name: "export_driver_world",
    default_bindings_module: "driver_kit",
});

use std::any::Any;
use std::cell::RefCell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::marker::PhantomData;
use std::time::{SystemTime, UNIX_EPOCH};

/// The result of every driver call.
pub type Result<T> = std::result::Result<T, roster::coordination::types::CoordinationError>;

mod entry;
#[cfg(feature = "scenarios")]
pub mod scenarios;
mod vocab;

use exports::roster::coordination::backend::{
    Feed, GroupSummary, LockAttempt, LockStanding, SessionKey, StoreInfo,
};
use roster::coordination::types::{Leader, LockInfo, LockMode, MemberInfo};

/// What a driver's store offers: one method per call of the driver world
/// (`wit/driver.wit`, which documents each), with borrowed arguments. [`export_driver!`]
/// exports the world from it.
pub trait Driver: Sized + 'static {
    /// The driver's name, in errors.
    const NAME: &'static str;

    fn open(options: &[(String, String)]) -> Result<Self>;
    fn describe(&mut self) -> Result<StoreInfo>;
    fn head(&mut self) -> Result<u64>;
    fn open_session(&mut self, member: &str, ttl_ms: u64) -> Result<SessionKey>;
    fn close_session(&mut self, session: &str) -> Result<u64>;
    fn heartbeat(&mut self, session: &str) -> Result<u64>;
    fn create_group(&mut self, group: &str) -> Result<u64>;
    fn delete_group(&mut self, group: &str) -> Result<u64>;
    fn groups(&mut self) -> Result<Vec<String>>;
    fn group_summaries(&mut self) -> Result<(u64, Vec<GroupSummary>)>;
    fn join(
        &mut self,
        session: &str,
        group: &str,
        capabilities: &[u8],
        create: bool,
    ) -> Result<u64>;
    fn leave(&mut self, session: &str, group: &str) -> Result<u64>;
    fn update_capabilities(
        &mut self,
        session: &str,
        group: &str,
        capabilities: &[u8],
    ) -> Result<u64>;
    fn get_members(&mut self, group: &str) -> Result<Vec<String>>;
    fn get_members_info(&mut self, group: &str) -> Result<Vec<(String, MemberInfo)>>;
    fn get_member_info(&mut self, group: &str, member: &str) -> Result<MemberInfo>;
    fn get_leader(&mut self, group: &str) -> Result<Option<Leader>>;
    fn stand(&mut self, session: &str, group: &str) -> Result<u64>;
    fn withdraw(&mut self, session: &str, group: &str) -> Result<u64>;
    fn stand_down(&mut self, session: &str, group: &str) -> Result<(bool, u64)>;
    fn changes(&mut self, after: u64, max: u32, wait_ms: u64) -> Result<Feed>;

    // Locks are optional: a store that keeps none answers every lock call with
    // `not-implemented("locks")`, as these defaults do.

    fn acquire_lock(
        &mut self,
        _session: &str,
        _lock: &str,
        _mode: LockMode,
        _wait: bool,
    ) -> Result<(LockAttempt, u64)> {
        Err(locks_not_kept())
    }
    fn release_lock(&mut self, _session: &str, _lock: &str) -> Result<(Option<u64>, u64)> {
        Err(locks_not_kept())
    }
    fn abandon_lock_wait(&mut self, _session: &str, _lock: &str) -> Result<(Option<u64>, u64)> {
        Err(locks_not_kept())
    }
    fn break_lock(&mut self, _session: &str, _lock: &str) -> Result<(Vec<u64>, u64)> {
        Err(locks_not_kept())
    }
    fn lock_standing(&mut self, _session: &str, _lock: &str) -> Result<LockStanding> {
        Err(locks_not_kept())
    }
    fn get_lock(&mut self, _lock: &str) -> Result<LockInfo> {
        Err(locks_not_kept())
    }
    fn get_locks(&mut self) -> Result<Vec<LockInfo>> {
        Err(locks_not_kept())
    }
}

/// What a store that keeps no locks answers to a lock call.
fn locks_not_kept() -> roster::coordination::types::CoordinationError {
    roster::coordination::types::CoordinationError::NotImplemented("locks".to_owned())
}

thread_local! {
    /// The instance's store, once `open` has made it (a component instance has one).
    static STORE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Run `call` on the instance's store; before `open`, a `connection` error.
fn with_store<S: Driver, T>(call: impl FnOnce(&mut S) -> Result<T>) -> Result<T> {
    STORE.with_borrow_mut(|store| {
        match store.as_mut().and_then(|store| store.downcast_mut::<S>()) {
            Some(store) => call(store),
            None => Err(roster::coordination::types::CoordinationError::Connection(
                format!("the {} driver was called before open", S::NAME),
            )),
        }
    })
}

/// The driver world's exports for the store type `S`: each call goes to `S`'s method of the
/// same name, with borrowed arguments.
pub struct Exported<S>(PhantomData<S>);

impl<S: Driver> exports::roster::coordination::backend::Guest for Exported<S> {
    fn open(options: Vec<(String, String)>) -> Result<()> {
        let store = S::open(&options)?;
        STORE.with_borrow_mut(|slot| *slot = Some(Box::new(store)));
        Ok(())
    }

    fn describe() -> Result<StoreInfo> {
        with_store(S::describe)
    }

    fn head() -> Result<u64> {
        with_store(S::head)
    }

    fn open_session(member: String, ttl_ms: u64) -> Result<SessionKey> {
        with_store(|s: &mut S| s.open_session(&member, ttl_ms))
    }

    fn close_session(session: String) -> Result<u64> {
        with_store(|s: &mut S| s.close_session(&session))
    }

    fn heartbeat(session: String) -> Result<u64> {
        with_store(|s: &mut S| s.heartbeat(&session))
    }

    fn create_group(group: String) -> Result<u64> {
        with_store(|s: &mut S| s.create_group(&group))
    }

    fn delete_group(group: String) -> Result<u64> {
        with_store(|s: &mut S| s.delete_group(&group))
    }

    fn groups() -> Result<Vec<String>> {
        with_store(S::groups)
    }

    fn group_summaries() -> Result<(u64, Vec<GroupSummary>)> {
        with_store(S::group_summaries)
    }

    fn join(session: String, group: String, capabilities: Vec<u8>, create: bool) -> Result<u64> {
        with_store(|s: &mut S| s.join(&session, &group, &capabilities, create))
    }

    fn leave(session: String, group: String) -> Result<u64> {
        with_store(|s: &mut S| s.leave(&session, &group))
    }

    fn update_capabilities(session: String, group: String, capabilities: Vec<u8>) -> Result<u64> {
        with_store(|s: &mut S| s.update_capabilities(&session, &group, &capabilities))
    }

    fn get_members(group: String) -> Result<Vec<String>> {
        with_store(|s: &mut S| s.get_members(&group))
    }

    fn get_members_info(group: String) -> Result<Vec<(String, MemberInfo)>> {
        with_store(|s: &mut S| s.get_members_info(&group))
    }

    fn get_member_info(group: String, member: String) -> Result<MemberInfo> {
        with_store(|s: &mut S| s.get_member_info(&group, &member))
    }

    fn get_leader(group: String) -> Result<Option<Leader>> {
        with_store(|s: &mut S| s.get_leader(&group))
    }

    fn stand(session: String, group: String) -> Result<u64> {
        with_store(|s: &mut S| s.stand(&session, &group))
    }

    fn withdraw(session: String, group: String) -> Result<u64> {
        with_store(|s: &mut S| s.withdraw(&session, &group))
    }

    fn stand_down(session: String, group: String) -> Result<(bool, u64)> {
        with_store(|s: &mut S| s.stand_down(&session, &group))
    }

    fn changes(after: u64, max: u32, wait_ms: u64) -> Result<Feed> {
        with_store(|s: &mut S| s.changes(after, max, wait_ms))
    }

    fn acquire_lock(
        session: String,
        lock: String,
        mode: LockMode,
        wait: bool,
    ) -> Result<(LockAttempt, u64)> {
        with_store(|s: &mut S| s.acquire_lock(&session, &lock, mode, wait))
    }

    fn release_lock(session: String, lock: String) -> Result<(Option<u64>, u64)> {
        with_store(|s: &mut S| s.release_lock(&session, &lock))
    }

    fn abandon_lock_wait(session: String, lock: String) -> Result<(Option<u64>, u64)> {
        with_store(|s: &mut S| s.abandon_lock_wait(&session, &lock))
    }

    fn break_lock(session: String, lock: String) -> Result<(Vec<u64>, u64)> {
        with_store(|s: &mut S| s.break_lock(&session, &lock))
    }

    fn get_lock_standing(session: String, lock: String) -> Result<LockStanding> {
        with_store(|s: &mut S| s.lock_standing(&session, &lock))
    }

    fn get_lock(lock: String) -> Result<LockInfo> {
        with_store(|s: &mut S| s.get_lock(&lock))
    }

    fn get_locks() -> Result<Vec<LockInfo>> {
        with_store(S::get_locks)
    }
}

/// Log a warning through the host, or on stderr where there is no host (native tests);
/// `driver` names the driver there.
pub fn log_warn(driver: &str, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        let _ = driver;
        roster::coordination::logging::log(roster::coordination::logging::Level::Warn, message);
    }
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{driver}: {message}");
}

/// The wall clock in Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// 64 random bits (std's hash keys come from the platform's random source).
pub fn random() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u8(0);
    hasher.finish()
}

/// 32 random hex digits.
pub fn random_hex() -> String {
    format!("{:016x}{:016x}", random(), random())
}

/// A new session key, `<32 random hex digits>.<ttl ms>.<member id>`, the TTL kept within 1 ms
/// and `u32::MAX` ms. `open-session` hands it out; it names its member and TTL, so a driver
/// knows both from the key alone ([`parse_session`]), even once the store has forgotten the
/// session.
pub fn new_session_key(member: &str, ttl_ms: u64) -> String {
    let ttl_ms = ttl_ms.clamp(1, u64::from(u32::MAX));
    format!("{}.{ttl_ms}.{member}", random_hex())
}

/// The member and TTL a session key from [`new_session_key`] names; `None` for anything else.
pub fn parse_session(key: &str) -> Option<(String, u64)> {
    let (random, rest) = key.split_once('.')?;
    let (ttl, member) = rest.split_once('.')?;
    if random.is_empty() || !random.bytes().all(|b| b.is_ascii_hexdigit()) || member.is_empty() {
        return None;
    }
    let ttl = ttl.parse().ok().filter(|t| *t >= 1)?;
    Some((member.to_owned(), ttl))
}

pub use entry::{Entry, Reason};
pub use vocab::by_name;

/// A server store's namespace when the URL names none.
pub const DEFAULT_NAMESPACE: &str = "roster";
/// Longest namespace accepted, in bytes.
pub const MAX_NAMESPACE: usize = 255;

/// Events a store keeps when its URL names no `history` (as the embedded backend).
pub const DEFAULT_HISTORY: u64 = 65_536;
/// Largest capabilities when the URL names no `max_capabilities` (as the embedded backend).
pub const DEFAULT_MAX_CAPABILITIES: u64 = 64 * 1024;

/// The options `open` gets: the URL's, plus what the host adds (`address` or `directory`).
/// Errors about them name the store by `url`.
#[derive(Debug)]
pub struct Options<'a> {
    options: &'a [(String, String)],
    url: String,
}

impl<'a> Options<'a> {
    /// The options of the store at `url` (as errors show it).
    pub fn new(options: &'a [(String, String)], url: impl Into<String>) -> Self {
        Self {
            options,
            url: url.into(),
        }
    }

    /// The options of a server's store: `address` (the `host:port` the host resolved and
    /// grants), with errors naming the store `scheme://address`. `driver` names the driver
    /// in the error for a missing address.
    pub fn of_server(
        options: &'a [(String, String)],
        scheme: &str,
        driver: &str,
    ) -> Result<(&'a str, Self)> {
        let mut options = Self::new(options, format!("{scheme}://"));
        let address = options.required(
            "address",
            &format!("the {driver} driver needs an address (host:port)"),
        )?;
        options.url = format!("{scheme}://{address}");
        Ok((address, options))
    }

    /// The value of option `name`, if given.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.options
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of option `name`, which the host always gives; `missing` says what is
    /// wrong without it.
    pub fn required(&self, name: &str, missing: &str) -> Result<&'a str> {
        self.get(name).ok_or_else(|| {
            roster::coordination::types::CoordinationError::Connection(missing.to_owned())
        })
    }

    /// `invalid-url` for option `name` with `value`, which should have been `expected`.
    pub fn invalid(
        &self,
        name: &str,
        value: &str,
        expected: &str,
    ) -> roster::coordination::types::CoordinationError {
        use roster::coordination::types::{
            CoordinationError, InvalidOptionValue, InvalidUrl, UrlProblem,
        };
        CoordinationError::InvalidUrl(InvalidUrl {
            url: self.url.clone(),
            problem: UrlProblem::InvalidOptionValue(InvalidOptionValue {
                name: name.to_owned(),
                value: value.to_owned(),
                expected: expected.to_owned(),
            }),
        })
    }

    /// `namespace`: a server store's key prefix ([`DEFAULT_NAMESPACE`] if absent), 1 to
    /// [`MAX_NAMESPACE`] bytes without control characters or any of `forbidden`; `rule`
    /// says so in the error.
    pub fn namespace(&self, forbidden: &[char], rule: &str) -> Result<&'a str> {
        let namespace = self.get("namespace").unwrap_or(DEFAULT_NAMESPACE);
        if namespace.is_empty()
            || namespace.len() > MAX_NAMESPACE
            || namespace
                .chars()
                .any(|c| c.is_control() || forbidden.contains(&c))
        {
            return Err(self.invalid("namespace", namespace, rule));
        }
        Ok(namespace)
    }

    /// `history`: the events the store keeps, at least 1 ([`DEFAULT_HISTORY`] if absent).
    pub fn history(&self) -> Result<u64> {
        match self.get("history") {
            None => Ok(DEFAULT_HISTORY),
            Some(value) => value
                .parse()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| self.invalid("history", value, "a number of events, at least 1")),
        }
    }

    /// `max_capabilities`: the largest capabilities accepted, in bytes
    /// ([`DEFAULT_MAX_CAPABILITIES`] if absent).
    pub fn max_capabilities(&self) -> Result<u64> {
        match self.get("max_capabilities") {
            None => Ok(DEFAULT_MAX_CAPABILITIES),
            Some(value) => value
                .parse()
                .map_err(|_| self.invalid("max_capabilities", value, "a number of bytes")),
        }
    }
}

/// Export the driver world from `$store`, a [`Driver`]: `open` makes the store and keeps it
/// for the instance's lifetime, and every other call goes to the method of the same name
/// (see [`Exported`]).
#[macro_export]
macro_rules! export_driver {
    ($store:ty) => {
        /// The component's exports.
        type ExportedDriver = $crate::Exported<$store>;

        $crate::export_driver_world!(ExportedDriver with_types_in $crate);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_key_names_its_member_and_ttl() {
        let key = new_session_key("a.b/c", 1500);
        assert_eq!(parse_session(&key), Some(("a.b/c".to_owned(), 1500)));
        assert_eq!(
            parse_session(&new_session_key("m", 0)),
            Some(("m".to_owned(), 1))
        );
        assert_eq!(
            parse_session(&new_session_key("m", u64::MAX)),
            Some(("m".to_owned(), u64::from(u32::MAX)))
        );
        assert_ne!(new_session_key("m", 1500), new_session_key("m", 1500));
    }

    #[test]
    fn other_text_is_not_a_session_key() {
        for text in [
            "xyz.1500.m",
            "00.1500.",
            "00.x.m",
            ".1500.m",
            "00.0.m",
            "00ff",
            "00.15",
        ] {
            assert_eq!(parse_session(text), None, "{text}");
        }
    }

    #[test]
    fn a_namespace_is_checked_and_defaults_to_roster() {
        let given = |value: &str| vec![("namespace".to_owned(), value.to_owned())];
        let rule = "no braces";
        let none = Options::new(&[], "redis://h:1");
        assert_eq!(none.namespace(&['{'], rule).ok(), Some(DEFAULT_NAMESPACE));
        let ok = given("team/a");
        assert_eq!(
            Options::new(&ok, "u").namespace(&['{'], rule).ok(),
            Some("team/a")
        );
        let long = "n".repeat(MAX_NAMESPACE + 1);
        for bad in ["", "a{b", "tab\there", long.as_str()] {
            let options = given(bad);
            let error = Options::new(&options, "u")
                .namespace(&['{'], rule)
                .unwrap_err();
            assert!(format!("{error:?}").contains(rule), "{bad:?}: {error:?}");
        }
    }
}
