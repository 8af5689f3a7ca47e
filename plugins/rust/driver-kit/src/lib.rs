//! What Roster's Rust driver guests share, so each driver crate holds only its store.
//!
//! - The bindings of the `roster:coordination/driver` world (`wit/driver.wit`), generated
//!   once here: a driver crate re-exports [`exports`] and [`roster`] and names the types as
//!   if it had generated them itself.
//! - [`export_driver!`]: the component's exports, each forwarded to the driver's store type,
//!   which `open` makes and keeps for the instance's lifetime.
//! - The wall clock, randomness and a warning log that every driver needs, working natively
//!   too (for the drivers' own tests against real servers).
//! - [`Driver`], what every store offers, and (feature `scenarios`, for the drivers' tests)
//!   the scenarios every server driver passes, written once over it.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "roster:coordination/driver",
    pub_export_macro: true,
    export_macro_name: "export_driver_world",
    default_bindings_module: "driver_kit",
});

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

/// The result of every driver call.
pub type Result<T> = std::result::Result<T, roster::coordination::types::CoordinationError>;

#[cfg(feature = "scenarios")]
pub mod scenarios;

use exports::roster::coordination::backend::{Feed, GroupSummary, SessionKey, StoreInfo};
use roster::coordination::types::{Leader, MemberInfo};

/// What a driver's store offers: one method per call of the driver world
/// (`wit/driver.wit`, which documents each), with borrowed arguments. [`export_driver!`]
/// implements it for the store type from the store's own methods of the same names.
pub trait Driver: Sized {
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

/// Export the driver world from a store type, named `$name` in errors: `open` makes the
/// store with `<$store>::open(&options)` and every other call is forwarded to the method of
/// the same name, with borrowed arguments. A call before `open` is a `connection` error.
/// The store type also gets [`Driver`], from the same methods.
#[macro_export]
macro_rules! export_driver {
    ($store:ty, $name:literal) => {
        impl $crate::Driver for $store {
            fn open(options: &[(String, String)]) -> $crate::Result<Self> {
                <$store>::open(options)
            }
            fn describe(
                &mut self,
            ) -> $crate::Result<$crate::exports::roster::coordination::backend::StoreInfo> {
                <$store>::describe(self)
            }
            fn head(&mut self) -> $crate::Result<u64> {
                <$store>::head(self)
            }
            fn open_session(&mut self, member: &str, ttl_ms: u64) -> $crate::Result<String> {
                <$store>::open_session(self, member, ttl_ms)
            }
            fn close_session(&mut self, session: &str) -> $crate::Result<u64> {
                <$store>::close_session(self, session)
            }
            fn heartbeat(&mut self, session: &str) -> $crate::Result<u64> {
                <$store>::heartbeat(self, session)
            }
            fn create_group(&mut self, group: &str) -> $crate::Result<u64> {
                <$store>::create_group(self, group)
            }
            fn delete_group(&mut self, group: &str) -> $crate::Result<u64> {
                <$store>::delete_group(self, group)
            }
            fn groups(&mut self) -> $crate::Result<Vec<String>> {
                <$store>::groups(self)
            }
            fn group_summaries(
                &mut self,
            ) -> $crate::Result<(
                u64,
                Vec<$crate::exports::roster::coordination::backend::GroupSummary>,
            )> {
                <$store>::group_summaries(self)
            }
            fn join(
                &mut self,
                session: &str,
                group: &str,
                capabilities: &[u8],
                create: bool,
            ) -> $crate::Result<u64> {
                <$store>::join(self, session, group, capabilities, create)
            }
            fn leave(&mut self, session: &str, group: &str) -> $crate::Result<u64> {
                <$store>::leave(self, session, group)
            }
            fn update_capabilities(
                &mut self,
                session: &str,
                group: &str,
                capabilities: &[u8],
            ) -> $crate::Result<u64> {
                <$store>::update_capabilities(self, session, group, capabilities)
            }
            fn get_members(&mut self, group: &str) -> $crate::Result<Vec<String>> {
                <$store>::get_members(self, group)
            }
            fn get_members_info(
                &mut self,
                group: &str,
            ) -> $crate::Result<Vec<(String, $crate::roster::coordination::types::MemberInfo)>>
            {
                <$store>::get_members_info(self, group)
            }
            fn get_member_info(
                &mut self,
                group: &str,
                member: &str,
            ) -> $crate::Result<$crate::roster::coordination::types::MemberInfo> {
                <$store>::get_member_info(self, group, member)
            }
            fn get_leader(
                &mut self,
                group: &str,
            ) -> $crate::Result<Option<$crate::roster::coordination::types::Leader>> {
                <$store>::get_leader(self, group)
            }
            fn stand(&mut self, session: &str, group: &str) -> $crate::Result<u64> {
                <$store>::stand(self, session, group)
            }
            fn withdraw(&mut self, session: &str, group: &str) -> $crate::Result<u64> {
                <$store>::withdraw(self, session, group)
            }
            fn stand_down(&mut self, session: &str, group: &str) -> $crate::Result<(bool, u64)> {
                <$store>::stand_down(self, session, group)
            }
            fn changes(
                &mut self,
                after: u64,
                max: u32,
                wait_ms: u64,
            ) -> $crate::Result<$crate::exports::roster::coordination::backend::Feed> {
                <$store>::changes(self, after, max, wait_ms)
            }
        }

        thread_local! {
            /// The instance's store, once `open` has made it.
            static STORE: ::std::cell::RefCell<Option<$store>> =
                const { ::std::cell::RefCell::new(None) };
        }

        fn with_store<T>(
            call: impl FnOnce(&mut $store) -> $crate::Result<T>,
        ) -> $crate::Result<T> {
            STORE.with_borrow_mut(|store| match store {
                Some(store) => call(store),
                None => Err(
                    $crate::roster::coordination::types::CoordinationError::Connection(
                        concat!("the ", $name, " driver was called before open").into(),
                    ),
                ),
            })
        }

        /// The component's exports.
        struct ExportedDriver;

        impl $crate::exports::roster::coordination::backend::Guest for ExportedDriver {
            fn open(options: Vec<(String, String)>) -> $crate::Result<()> {
                let store = <$store>::open(&options)?;
                STORE.with_borrow_mut(|slot| *slot = Some(store));
                Ok(())
            }

            fn describe()
            -> $crate::Result<$crate::exports::roster::coordination::backend::StoreInfo> {
                with_store(|s| s.describe())
            }

            fn head() -> $crate::Result<u64> {
                with_store(|s| s.head())
            }

            fn open_session(member: String, ttl_ms: u64) -> $crate::Result<String> {
                with_store(|s| s.open_session(&member, ttl_ms))
            }

            fn close_session(session: String) -> $crate::Result<u64> {
                with_store(|s| s.close_session(&session))
            }

            fn heartbeat(session: String) -> $crate::Result<u64> {
                with_store(|s| s.heartbeat(&session))
            }

            fn create_group(group: String) -> $crate::Result<u64> {
                with_store(|s| s.create_group(&group))
            }

            fn delete_group(group: String) -> $crate::Result<u64> {
                with_store(|s| s.delete_group(&group))
            }

            fn groups() -> $crate::Result<Vec<String>> {
                with_store(|s| s.groups())
            }

            fn group_summaries() -> $crate::Result<(
                u64,
                Vec<$crate::exports::roster::coordination::backend::GroupSummary>,
            )> {
                with_store(|s| s.group_summaries())
            }

            fn join(
                session: String,
                group: String,
                capabilities: Vec<u8>,
                create: bool,
            ) -> $crate::Result<u64> {
                with_store(|s| s.join(&session, &group, &capabilities, create))
            }

            fn leave(session: String, group: String) -> $crate::Result<u64> {
                with_store(|s| s.leave(&session, &group))
            }

            fn update_capabilities(
                session: String,
                group: String,
                capabilities: Vec<u8>,
            ) -> $crate::Result<u64> {
                with_store(|s| s.update_capabilities(&session, &group, &capabilities))
            }

            fn get_members(group: String) -> $crate::Result<Vec<String>> {
                with_store(|s| s.get_members(&group))
            }

            fn get_members_info(
                group: String,
            ) -> $crate::Result<Vec<(String, $crate::roster::coordination::types::MemberInfo)>>
            {
                with_store(|s| s.get_members_info(&group))
            }

            fn get_member_info(
                group: String,
                member: String,
            ) -> $crate::Result<$crate::roster::coordination::types::MemberInfo> {
                with_store(|s| s.get_member_info(&group, &member))
            }

            fn get_leader(
                group: String,
            ) -> $crate::Result<Option<$crate::roster::coordination::types::Leader>> {
                with_store(|s| s.get_leader(&group))
            }

            fn stand(session: String, group: String) -> $crate::Result<u64> {
                with_store(|s| s.stand(&session, &group))
            }

            fn withdraw(session: String, group: String) -> $crate::Result<u64> {
                with_store(|s| s.withdraw(&session, &group))
            }

            fn stand_down(session: String, group: String) -> $crate::Result<(bool, u64)> {
                with_store(|s| s.stand_down(&session, &group))
            }

            fn changes(
                after: u64,
                max: u32,
                wait_ms: u64,
            ) -> $crate::Result<$crate::exports::roster::coordination::backend::Feed> {
                with_store(|s| s.changes(after, max, wait_ms))
            }
        }

        $crate::export_driver_world!(ExportedDriver with_types_in $crate);
    };
}
