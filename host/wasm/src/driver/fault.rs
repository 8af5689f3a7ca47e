//! What goes wrong with a driver component itself, as opposed to what its store answers.
//!
//! A driver's own answers (`not-implemented`, `group-not-created`, `connection` when its
//! server is down, ...) are coordination errors and reach the caller as they are. A
//! [`DriverFault`] is the host's finding about the driver: it could not be loaded or set up,
//! it trapped, it overran its deadline, or it answered with something the host rejects.
//! The caller sees every fault as [`CoordinationError::Connection`] (tooz's
//! `ToozConnectionError`: the store cannot be used now), so the coordination API and its
//! error vocabulary stay those of tooz; the message is the fault's, and the host's log names
//! its kind in the field `fault` ([`DriverFault::kind`]), so a crash, a hang and a bug in the
//! driver's data are never mistaken for one another or for an unreachable server.

use std::time::Duration;

use roster_types::error::CoordinationError;

/// A fault of a driver component (see the module documentation). Every message is one line
/// and names the driver.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DriverFault {
    /// The driver's component cannot be used: no file where the URL or the plugin directory
    /// points and none built in, a file that cannot be read, or one that is not a usable
    /// component of the driver world (see [`crate::plugin::ComponentError`]).
    #[error("{0}")]
    Load(String),
    /// The host could not give the driver its sandbox: the shared runtime cannot be set up,
    /// the URL's address does not resolve, or its directory cannot be opened.
    #[error("{0}")]
    Setup(String),
    /// The driver trapped (a panic, an out-of-bounds access, a stack overflow, memory it was
    /// refused) while being instantiated, opened or called; `trap` is the trap's one-line
    /// description ([`crate::runtime::component::describe_trap`]). The instance is dropped.
    #[error("driver {driver} trapped: {trap}")]
    Trap {
        /// The driver's backend name.
        driver: String,
        /// What the trap was, in one line.
        trap: String,
    },
    /// A call (or the instantiation, or `open`) had not returned when its deadline passed.
    /// The instance is dropped.
    #[error("driver {driver} did not answer in time (deadline {} ms)", limit.as_millis())]
    Deadline {
        /// The driver's backend name.
        driver: String,
        /// The deadline it overran.
        limit: Duration,
    },
    /// The driver returned a value the host rejects: an invalid group or member id, event,
    /// leader or coordination error. The call fails; the instance, which did not fault,
    /// is kept.
    #[error("driver {driver} returned an invalid {what}: {problem}")]
    BadData {
        /// The driver's backend name.
        driver: String,
        /// What kind of value it was (`group id`, `event`, ...).
        what: &'static str,
        /// Why the host rejects it.
        problem: String,
    },
}

impl DriverFault {
    /// The fault's kind, as logged in the field `fault`: `load`, `setup`, `trap`,
    /// `deadline` or `bad-data`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            DriverFault::Load(_) => "load",
            DriverFault::Setup(_) => "setup",
            DriverFault::Trap { .. } => "trap",
            DriverFault::Deadline { .. } => "deadline",
            DriverFault::BadData { .. } => "bad-data",
        }
    }

    /// Whether the instance that faulted must be dropped: it trapped or may still be running.
    pub(crate) fn poisons_instance(&self) -> bool {
        matches!(
            self,
            DriverFault::Trap { .. } | DriverFault::Deadline { .. }
        )
    }
}

impl From<DriverFault> for CoordinationError {
    fn from(fault: DriverFault) -> Self {
        CoordinationError::Connection(fault.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<DriverFault> {
        let driver = || "redis".to_owned();
        vec![
            DriverFault::Load("no redis driver component".into()),
            DriverFault::Setup("cannot resolve nowhere:1".into()),
            DriverFault::Trap {
                driver: driver(),
                trap: "wasm `unreachable` instruction executed".into(),
            },
            DriverFault::Deadline {
                driver: driver(),
                limit: Duration::from_millis(500),
            },
            DriverFault::BadData {
                driver: driver(),
                what: "group id",
                problem: "empty".into(),
            },
        ]
    }

    #[test]
    fn each_kind_of_fault_has_its_own_name_and_message() {
        let faults = every_kind();
        let mut kinds: Vec<_> = faults.iter().map(DriverFault::kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), faults.len());
        assert_eq!(
            faults[2].to_string(),
            "driver redis trapped: wasm `unreachable` instruction executed"
        );
        assert_eq!(
            faults[3].to_string(),
            "driver redis did not answer in time (deadline 500 ms)"
        );
        assert_eq!(
            faults[4].to_string(),
            "driver redis returned an invalid group id: empty"
        );
    }

    #[test]
    fn every_fault_reaches_the_caller_as_a_connection_error_with_its_message() {
        for fault in every_kind() {
            let message = fault.to_string();
            assert_eq!(
                CoordinationError::from(fault),
                CoordinationError::Connection(message)
            );
        }
    }

    #[test]
    fn only_a_trap_or_an_overrun_drops_the_instance() {
        let dropping: Vec<_> = every_kind()
            .into_iter()
            .filter(DriverFault::poisons_instance)
            .map(|fault| fault.kind())
            .collect();
        assert_eq!(dropping, ["trap", "deadline"]);
    }
}
