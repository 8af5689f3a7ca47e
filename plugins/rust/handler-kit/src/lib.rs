//! What a Rust event handler needs besides its logic, so a handler crate is that logic.
//!
//! - The bindings of the `roster:coordination/handler` world (`wit/handler.wit`), generated
//!   once here and re-exported: [`types`] (events and their records), [`coordinator`] (the
//!   calls a handler may make, as its grants allow) and [`logging`].
//! - [`Handler`]: one method per kind of event, each doing nothing unless the handler says
//!   otherwise, one for every event whatever its kind, one after each batch, and one for the
//!   host's snapshot after a gap. The
//!   handler is a value (its state), made with `Default` when the component is instantiated
//!   again after a fault, and given every event in revision order.
//! - [`export_handler!`]: the component's exports, each event dispatched to its method.
//! - [`EventExt`]: what every handler asks of an event (its revision, group, kind).
//! - [`info!`], [`warn!`], [`error!`], [`debug!`]: formatted lines through the host's log.
//!
//! ```no_run
//! use handler_kit::types::MemberJoined;
//! use handler_kit::{Handler, Result, info};
//!
//! #[derive(Default)]
//! struct Count(u64);
//!
//! impl Handler for Count {
//!     fn member_joined(&mut self, event: &MemberJoined) -> Result {
//!         self.0 += 1;
//!         info!("#{}: {} joins so far", event.revision, self.0);
//!         Ok(())
//!     }
//! }
//!
//! handler_kit::export_handler!(Count);
//! ```

wit_bindgen::generate!({
    path: "../../../wit",
    world: "roster:coordination/handler",
    pub_export_macro: true,
    export_macro_name: "export_handler_world",
    default_bindings_module: "handler_kit",
});

pub use exports::roster::coordination::events::{GroupSnapshot, Resync};
pub use roster::coordination::{coordinator, logging, types};

use types::{
    CapabilitiesUpdated, GroupCreated, GroupDeleted, LeaderElected, LeaderLost, LockAcquired,
    LockReleased, MemberJoined, MemberLeft, MembershipEvent,
};

/// What every handler method returns: an error makes the host count a failure and deliver
/// the event again on its own.
pub type Result = std::result::Result<(), String>;

/// A handler: its state, and what it does with each kind of event. Every method does nothing
/// unless the handler says otherwise.
pub trait Handler: Default + 'static {
    /// Every event, before the method of its kind: for handlers that treat all kinds alike.
    fn event(&mut self, _event: &MembershipEvent) -> Result {
        Ok(())
    }
    /// A group was created.
    fn group_created(&mut self, _event: &GroupCreated) -> Result {
        Ok(())
    }
    /// A group was deleted.
    fn group_deleted(&mut self, _event: &GroupDeleted) -> Result {
        Ok(())
    }
    /// A member joined a group.
    fn member_joined(&mut self, _event: &MemberJoined) -> Result {
        Ok(())
    }
    /// A member left a group (its `reason` says why).
    fn member_left(&mut self, _event: &MemberLeft) -> Result {
        Ok(())
    }
    /// A member changed its capabilities in a group.
    fn capabilities_updated(&mut self, _event: &CapabilitiesUpdated) -> Result {
        Ok(())
    }
    /// A member became a group's leader.
    fn leader_elected(&mut self, _event: &LeaderElected) -> Result {
        Ok(())
    }
    /// A group's leadership ended.
    fn leader_lost(&mut self, _event: &LeaderLost) -> Result {
        Ok(())
    }
    /// A member acquired a lock.
    fn lock_acquired(&mut self, _event: &LockAcquired) -> Result {
        Ok(())
    }
    /// A holder no longer holds a lock (its `reason` says why).
    fn lock_released(&mut self, _event: &LockReleased) -> Result {
        Ok(())
    }
    /// A batch was handled, its last event at revision `last`: the place for one summary per
    /// batch rather than per event.
    fn batch_handled(&mut self, _last: u64) -> Result {
        Ok(())
    }
    /// The host could not deliver some events (the handler fell behind the history kept, or
    /// the store was replaced): `snapshot` is the state at a revision, and events go on after
    /// it. A handler that keeps state builds it again from here.
    fn resync(&mut self, _snapshot: &Resync) -> Result {
        Ok(())
    }
}

/// Give each of `events` to its method of `handler`, in order, then end the batch; stops at
/// the first error.
pub fn dispatch<H: Handler>(handler: &mut H, events: &[MembershipEvent]) -> Result {
    for event in events {
        handler.event(event)?;
        match event {
            MembershipEvent::GroupCreated(e) => handler.group_created(e)?,
            MembershipEvent::GroupDeleted(e) => handler.group_deleted(e)?,
            MembershipEvent::MemberJoined(e) => handler.member_joined(e)?,
            MembershipEvent::MemberLeft(e) => handler.member_left(e)?,
            MembershipEvent::CapabilitiesUpdated(e) => handler.capabilities_updated(e)?,
            MembershipEvent::LeaderElected(e) => handler.leader_elected(e)?,
            MembershipEvent::LeaderLost(e) => handler.leader_lost(e)?,
            MembershipEvent::LockAcquired(e) => handler.lock_acquired(e)?,
            MembershipEvent::LockReleased(e) => handler.lock_released(e)?,
        }
    }
    match events.last() {
        Some(last) => handler.batch_handled(last.revision()),
        None => Ok(()),
    }
}

/// What every handler asks of an event.
pub trait EventExt {
    /// The revision that orders it.
    fn revision(&self) -> u64;
    /// The group it belongs to (`None` for a lock's event).
    fn group_id(&self) -> Option<&str>;
    /// The lock it belongs to (`None` for a group's event).
    fn lock(&self) -> Option<&str>;
    /// What it belongs to: its group, or its lock.
    fn subject(&self) -> &str;
    /// Its kind, as the API names it (`member-joined`, ...).
    fn kind(&self) -> &'static str;
}

impl EventExt for MembershipEvent {
    fn revision(&self) -> u64 {
        match self {
            Self::GroupCreated(e) => e.revision,
            Self::GroupDeleted(e) => e.revision,
            Self::MemberJoined(e) => e.revision,
            Self::MemberLeft(e) => e.revision,
            Self::CapabilitiesUpdated(e) => e.revision,
            Self::LeaderElected(e) => e.revision,
            Self::LeaderLost(e) => e.revision,
            Self::LockAcquired(e) => e.revision,
            Self::LockReleased(e) => e.revision,
        }
    }

    fn group_id(&self) -> Option<&str> {
        match self {
            Self::GroupCreated(e) => Some(&e.group_id),
            Self::GroupDeleted(e) => Some(&e.group_id),
            Self::MemberJoined(e) => Some(&e.group_id),
            Self::MemberLeft(e) => Some(&e.group_id),
            Self::CapabilitiesUpdated(e) => Some(&e.group_id),
            Self::LeaderElected(e) => Some(&e.group_id),
            Self::LeaderLost(e) => Some(&e.group_id),
            Self::LockAcquired(_) | Self::LockReleased(_) => None,
        }
    }

    fn lock(&self) -> Option<&str> {
        match self {
            Self::LockAcquired(e) => Some(&e.lock),
            Self::LockReleased(e) => Some(&e.lock),
            _ => None,
        }
    }

    fn subject(&self) -> &str {
        self.group_id().or(self.lock()).unwrap_or_default()
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::GroupCreated(_) => "group-created",
            Self::GroupDeleted(_) => "group-deleted",
            Self::MemberJoined(_) => "member-joined",
            Self::MemberLeft(_) => "member-left",
            Self::CapabilitiesUpdated(_) => "capabilities-updated",
            Self::LeaderElected(_) => "leader-elected",
            Self::LeaderLost(_) => "leader-lost",
            Self::LockAcquired(_) => "lock-acquired",
            Self::LockReleased(_) => "lock-released",
        }
    }
}

/// A line through the host's log at `level` (`Info`, `Warn`, `Error`, `Debug`), formatted.
#[macro_export]
macro_rules! log_at {
    ($level:ident, $($arg:tt)*) => {
        $crate::logging::log($crate::logging::Level::$level, &::std::format!($($arg)*))
    };
}

/// A line through the host's log at level info, formatted as `format!` does.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log_at!(Info, $($arg)*) };
}

/// A line through the host's log at level warn.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log_at!(Warn, $($arg)*) };
}

/// A line through the host's log at level error.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log_at!(Error, $($arg)*) };
}

/// A line through the host's log at level debug.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log_at!(Debug, $($arg)*) };
}

/// Export the handler world from `$handler` (a [`Handler`]): one value of it per instance,
/// made with `Default`, given every batch and every resync.
#[macro_export]
macro_rules! export_handler {
    ($handler:ty) => {
        const _: () = {
            ::std::thread_local! {
                static HANDLER: ::std::cell::RefCell<$handler> =
                    ::std::cell::RefCell::new(<$handler as ::core::default::Default>::default());
            }

            struct Exported;

            impl $crate::exports::roster::coordination::events::Guest for Exported {
                fn on_events(
                    events: ::std::vec::Vec<$crate::types::MembershipEvent>,
                ) -> $crate::Result {
                    HANDLER.with_borrow_mut(|handler| $crate::dispatch(handler, &events))
                }

                fn on_resync(snapshot: $crate::Resync) -> $crate::Result {
                    HANDLER.with_borrow_mut(|handler| $crate::Handler::resync(handler, &snapshot))
                }
            }

    $crate::export_handler_world!(Exported with_types_in $crate);
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use types::LeaveReason;

    /// Records what it is given; refuses the member `refuse`.
    #[derive(Default)]
    struct Recorder(Vec<String>);

    impl Handler for Recorder {
        fn group_created(&mut self, e: &GroupCreated) -> Result {
            self.0.push(format!("created {}", e.group_id));
            Ok(())
        }
        fn member_joined(&mut self, e: &MemberJoined) -> Result {
            if e.member_id == "refuse" {
                return Err("refused".into());
            }
            self.0.push(format!("joined {}", e.member_id));
            Ok(())
        }
        fn batch_handled(&mut self, last: u64) -> Result {
            self.0.push(format!("batch to #{last}"));
            Ok(())
        }
    }

    fn created(revision: u64, group: &str) -> MembershipEvent {
        MembershipEvent::GroupCreated(GroupCreated {
            revision,
            group_id: group.into(),
        })
    }

    fn joined(revision: u64, member: &str) -> MembershipEvent {
        MembershipEvent::MemberJoined(MemberJoined {
            revision,
            group_id: "g".into(),
            member_id: member.into(),
            capabilities: Vec::new(),
        })
    }

    #[test]
    fn events_reach_their_methods_in_order_then_the_batch_ends() {
        let mut handler = Recorder::default();
        let left = MembershipEvent::MemberLeft(MemberLeft {
            revision: 3,
            group_id: "g".into(),
            member_id: "a".into(),
            reason: LeaveReason::Expired,
        });
        dispatch(&mut handler, &[created(1, "g"), joined(2, "a"), left]).unwrap();
        // `member_left` does nothing by default.
        assert_eq!(handler.0, ["created g", "joined a", "batch to #3"]);
        dispatch(&mut handler, &[]).unwrap();
        assert_eq!(handler.0.len(), 3, "an empty batch ends nothing");
    }

    #[test]
    fn the_first_error_stops_the_batch() {
        let mut handler = Recorder::default();
        let refused = dispatch(
            &mut handler,
            &[joined(1, "a"), joined(2, "refuse"), joined(3, "b")],
        );
        assert_eq!(refused, Err("refused".into()));
        assert_eq!(handler.0, ["joined a"]);
    }

    #[test]
    fn every_event_names_its_revision_group_and_kind() {
        let event = joined(7, "a");
        assert_eq!(
            (event.revision(), event.subject(), event.kind()),
            (7, "g", "member-joined")
        );
        let event = created(1, "h");
        assert_eq!(
            (event.revision(), event.subject(), event.kind()),
            (1, "h", "group-created")
        );
    }
}
