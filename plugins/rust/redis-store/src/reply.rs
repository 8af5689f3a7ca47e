//! Reading the scripts' replies: their fields, the errors they name, and change-log entries
//! as membership events. An entry's kind, mode and reason are read into the host's enums
//! first, then its parts become the driver world's event (`driver_kit::Entry`).

use driver_kit::{Reason, by_name};
use redis_protocol::resp2::types::OwnedFrame;
use roster_types::{EventKind, LockMode};

use crate::Result;
use crate::roster::coordination::types::{
    CapabilitiesTooLarge, CoordinationError, LockHolder, LockInfo, LockWaiter, MemberRef,
    MembershipEvent, SessionExpired,
};

/// The items of one reply, read in order. A reply that is not what the script returns
/// is a `connection` error naming the server (it is not the store this driver wrote).
pub struct Reply {
    items: std::vec::IntoIter<OwnedFrame>,
    address: String,
}

impl Reply {
    pub fn new(frame: OwnedFrame, address: &str) -> Result<Self> {
        match frame {
            OwnedFrame::Array(items) => Ok(Self {
                items: items.into_iter(),
                address: address.to_owned(),
            }),
            OwnedFrame::Error(message) => Err(CoordinationError::Connection(format!(
                "redis at {address}: {message}"
            ))),
            other => Err(unexpected(address, &other)),
        }
    }

    fn unexpected(&self, frame: &OwnedFrame) -> CoordinationError {
        unexpected(&self.address, frame)
    }

    /// The next item, `Null` when there are no more (Redis drops a script's trailing nils).
    pub fn next(&mut self) -> OwnedFrame {
        self.items.next().unwrap_or(OwnedFrame::Null)
    }

    pub fn bytes(&mut self) -> Result<Vec<u8>> {
        match self.next() {
            OwnedFrame::BulkString(b) | OwnedFrame::SimpleString(b) => Ok(b),
            other => Err(self.unexpected(&other)),
        }
    }

    pub fn text(&mut self) -> Result<String> {
        let bytes = self.bytes()?;
        String::from_utf8(bytes).map_err(|e| {
            CoordinationError::Connection(format!(
                "redis at {}: text that is not UTF-8 in a reply: {e}",
                self.address
            ))
        })
    }

    /// A text that may be missing (`Null`).
    pub fn optional_text(&mut self) -> Result<Option<String>> {
        match self.next() {
            OwnedFrame::Null => Ok(None),
            OwnedFrame::BulkString(b) | OwnedFrame::SimpleString(b) => {
                String::from_utf8(b).map(Some).map_err(|e| {
                    CoordinationError::Connection(format!(
                        "redis at {}: text that is not UTF-8 in a reply: {e}",
                        self.address
                    ))
                })
            }
            other => Err(self.unexpected(&other)),
        }
    }

    /// A number, as an integer or as digits.
    pub fn number(&mut self) -> Result<u64> {
        let frame = self.next();
        number(&frame).ok_or_else(|| self.unexpected(&frame))
    }

    /// A number that may be missing (`Null`).
    pub fn optional_number(&mut self) -> Result<Option<u64>> {
        match self.next() {
            OwnedFrame::Null => Ok(None),
            frame => number(&frame)
                .map(Some)
                .ok_or_else(|| self.unexpected(&frame)),
        }
    }

    /// A nested array, as a reply of its own.
    pub fn nested(&mut self) -> Result<Reply> {
        let next = self.next();
        Reply::new(next, &self.address)
    }

    /// The items of a nested array.
    pub fn list(&mut self) -> Result<Vec<OwnedFrame>> {
        match self.next() {
            OwnedFrame::Array(items) => Ok(items),
            other => Err(self.unexpected(&other)),
        }
    }

    /// Every remaining item as a text.
    pub fn texts(mut self) -> Result<Vec<String>> {
        let mut out = Vec::with_capacity(self.items.len());
        while self.items.len() > 0 {
            out.push(self.text()?);
        }
        Ok(out)
    }

    /// The error a script named (`{'err', code, ...}` once `err` was read).
    pub fn error(mut self) -> CoordinationError {
        match self.coordination_error() {
            Ok(error) | Err(error) => error,
        }
    }

    fn coordination_error(&mut self) -> Result<CoordinationError> {
        let code = self.text()?;
        Ok(match code.as_str() {
            "group-not-created" => CoordinationError::GroupNotCreated(self.text()?),
            "group-already-exist" => CoordinationError::GroupAlreadyExist(self.text()?),
            "group-not-empty" => CoordinationError::GroupNotEmpty(self.text()?),
            "member-already-exist" => CoordinationError::MemberAlreadyExist(self.member_ref()?),
            "member-not-joined" => CoordinationError::MemberNotJoined(self.member_ref()?),
            "member-expired" => CoordinationError::MemberExpired(self.member_ref()?),
            "session-expired" => CoordinationError::SessionExpired(SessionExpired {
                member_id: self.text()?,
                lost_groups: self.nested()?.texts()?,
                lost_candidacies: self.nested()?.texts()?,
            }),
            "lock-not-held" => CoordinationError::LockNotHeld(self.text()?),
            "capabilities-too-large" => {
                CoordinationError::CapabilitiesTooLarge(CapabilitiesTooLarge {
                    size: self.number()?,
                    limit: self.number()?,
                })
            }
            "unknown-session" => {
                let session = self.text()?;
                CoordinationError::Connection(format!(
                    "redis at {}: {session:?} is not a session this driver opened",
                    self.address
                ))
            }
            other => CoordinationError::Connection(format!(
                "redis at {}: a script failed with {other:?}",
                self.address
            )),
        })
    }

    /// A lock mode, by the name it serializes with.
    pub fn mode(&mut self) -> Result<crate::roster::coordination::types::LockMode> {
        let frame = self.next();
        let mode = match &frame {
            OwnedFrame::BulkString(name) | OwnedFrame::SimpleString(name) => {
                named::<LockMode>(name)
            }
            _ => None,
        };
        mode.map(Into::into).ok_or_else(|| self.unexpected(&frame))
    }

    /// `{lock, {{member, mode, token}, ...}, {{member, mode}, ...}}` as a lock's info.
    pub fn lock_info(mut self) -> Result<LockInfo> {
        let address = self.address.clone();
        let lock = self.text()?;
        let holders = self
            .list()?
            .into_iter()
            .map(|holder| {
                let mut holder = Reply::new(holder, &address)?;
                Ok(LockHolder {
                    member_id: holder.text()?,
                    mode: holder.mode()?,
                    token: holder.number()?,
                })
            })
            .collect::<Result<_>>()?;
        let waiters = self
            .list()?
            .into_iter()
            .map(|waiter| {
                let mut waiter = Reply::new(waiter, &address)?;
                Ok(LockWaiter {
                    member_id: waiter.text()?,
                    mode: waiter.mode()?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(LockInfo {
            lock,
            holders,
            waiters,
        })
    }

    fn member_ref(&mut self) -> Result<MemberRef> {
        Ok(MemberRef {
            group_id: self.text()?,
            member_id: self.text()?,
        })
    }
}

fn unexpected(address: &str, frame: &OwnedFrame) -> CoordinationError {
    let mut shown = format!("{frame:?}");
    if shown.len() > 200 {
        let mut cut = 200;
        while !shown.is_char_boundary(cut) {
            cut -= 1;
        }
        shown.truncate(cut);
        shown.push('…');
    }
    CoordinationError::Connection(format!(
        "redis at {address}: unexpected reply {shown} (is this namespace written by another program?)"
    ))
}

fn number(frame: &OwnedFrame) -> Option<u64> {
    match frame {
        OwnedFrame::Integer(i) => u64::try_from(*i).ok(),
        OwnedFrame::BulkString(b) | OwnedFrame::SimpleString(b) => {
            std::str::from_utf8(b).ok()?.parse().ok()
        }
        _ => None,
    }
}

/// The kind of event a change-log entry's `e` field names: the scripts write each kind by a
/// short code (`commit` in `lua/common.lua`).
fn kind_of(code: &[u8]) -> Option<EventKind> {
    Some(match code {
        b"gc" => EventKind::GroupCreated,
        b"gd" => EventKind::GroupDeleted,
        b"mj" => EventKind::MemberJoined,
        b"ml" => EventKind::MemberLeft,
        b"cu" => EventKind::CapabilitiesUpdated,
        b"le" => EventKind::LeaderElected,
        b"ll" => EventKind::LeaderLost,
        b"la" => EventKind::LockAcquired,
        b"lr" => EventKind::LockReleased,
        _ => return None,
    })
}

/// A reason (the `r` field), by the name its enum serializes with (`left`, `stood-down`, ...).
fn named<'a, T: serde::Deserialize<'a>>(name: &'a [u8]) -> Option<T> {
    by_name(std::str::from_utf8(name).ok()?)
}

/// The fields of one change-log entry, as stored.
#[derive(Default)]
struct Fields {
    kind: Vec<u8>,
    group: String,
    member: String,
    capabilities: Vec<u8>,
    term: u64,
    reason: Vec<u8>,
    lock: String,
    mode: Vec<u8>,
}

/// One change-log entry (`[id, [field, value, ...]]`, id `<revision>-0`) as its event.
pub fn event(frame: OwnedFrame, address: &str) -> Result<MembershipEvent> {
    let bad = |what: &str| {
        CoordinationError::Connection(format!(
            "redis at {address}: a change-log entry with {what}"
        ))
    };
    let mut entry = Reply::new(frame, address)?;
    let id = entry.text()?;
    let revision: u64 = id
        .split('-')
        .next()
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| bad("an unreadable id"))?;
    let fields = entry.list()?;
    let mut e = Fields::default();
    let mut pairs = fields.into_iter();
    while let (Some(name), Some(value)) = (pairs.next(), pairs.next()) {
        let (OwnedFrame::BulkString(name), OwnedFrame::BulkString(value)) = (name, value) else {
            return Err(bad("a field that is not a string"));
        };
        let text = |value| String::from_utf8(value).map_err(|_| bad("a name that is not UTF-8"));
        match name.as_slice() {
            b"e" => e.kind = value,
            b"g" => e.group = text(value)?,
            b"m" => e.member = text(value)?,
            b"c" => e.capabilities = value,
            b"t" => {
                e.term = text(value)?
                    .parse()
                    .map_err(|_| bad("a term that is not a number"))?;
            }
            b"r" => e.reason = value,
            b"k" => e.lock = text(value)?,
            b"o" => e.mode = value,
            _ => {}
        }
    }
    let kind = kind_of(&e.kind).ok_or_else(|| bad("an unknown kind"))?;
    let mode = match e.mode.as_slice() {
        [] => None,
        name => Some(named::<LockMode>(name).ok_or_else(|| bad("an unknown lock mode"))?),
    };
    let reason = match e.reason.as_slice() {
        [] => None,
        name => Some(
            std::str::from_utf8(name)
                .ok()
                .and_then(|name| Reason::of(kind, name))
                .ok_or_else(|| bad("an unknown reason"))?,
        ),
    };
    driver_kit::Entry {
        revision,
        kind,
        group: e.group,
        lock: e.lock,
        member: e.member,
        capabilities: e.capabilities,
        term: e.term,
        mode,
        reason,
    }
    .event()
    .map_err(|what| bad(&what))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> OwnedFrame {
        OwnedFrame::BulkString(text.as_bytes().to_vec())
    }

    /// A log entry as `XRANGE` returns it.
    fn entry(id: &str, fields: &[&str]) -> OwnedFrame {
        OwnedFrame::Array(vec![
            bulk(id),
            OwnedFrame::Array(fields.iter().map(|f| bulk(f)).collect()),
        ])
    }

    #[test]
    fn every_event_kind_has_a_log_code() {
        let codes: [&[u8]; 7] = [b"gc", b"gd", b"mj", b"ml", b"cu", b"le", b"ll"];
        let kinds: Vec<EventKind> = codes.iter().filter_map(|code| kind_of(code)).collect();
        assert_eq!(
            kinds,
            [
                EventKind::GroupCreated,
                EventKind::GroupDeleted,
                EventKind::MemberJoined,
                EventKind::MemberLeft,
                EventKind::CapabilitiesUpdated,
                EventKind::LeaderElected,
                EventKind::LeaderLost
            ]
        );
        assert_eq!(kind_of(b"member-joined"), None);
    }

    #[test]
    fn an_entrys_kind_says_what_its_reason_names() {
        let lost = event(
            entry(
                "5-0",
                &["e", "ll", "g", "g", "m", "a", "t", "3", "r", "expired"],
            ),
            "here",
        )
        .unwrap();
        let MembershipEvent::LeaderLost(lost) = lost else {
            panic!("a leader-lost event, got {lost:?}");
        };
        assert_eq!((lost.revision, lost.term), (5, 3));
        assert!(matches!(
            lost.reason,
            crate::roster::coordination::types::LeadershipEnd::Expired
        ));
        let left = event(
            entry("6-0", &["e", "ml", "g", "g", "m", "a", "r", "stood-down"]),
            "here",
        );
        assert!(matches!(left, Err(CoordinationError::Connection(_))));
    }
}
