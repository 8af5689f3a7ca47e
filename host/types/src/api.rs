//! The network API's JSON bodies and headers, shared by the daemon (`roster-server`) and its
//! client (`roster-client`) so the two cannot disagree. `host/types/openapi.json` describes the same
//! shapes for clients in other languages; a test holds the three together.
//!
//! Times are Unix milliseconds, durations milliseconds; capabilities are text or
//! `{"base64": ...}` (see [`Capabilities`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::CoordinationError;
use crate::event::{Event, FencingToken, LockMode, Revision};
use crate::ids::{Capabilities, GroupId, MemberId};
use crate::members::{GroupSummary, Leader, LockInfo, MemberInfo};
use crate::plugin_stats::{PluginEvent, PluginStats};

/// The API's version prefix.
pub const PREFIX: &str = "/v1";

/// The OpenAPI document of the network API (`host/types/openapi.json`), served at
/// `/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// The response header naming the store's newest revision once a call was answered.
pub const REVISION_HEADER: &str = "roster-revision";

/// The response header naming the store every answer is of (a coordinator's `store_id`):
/// revisions are only comparable within one store, and a restarted daemon serves another.
pub const STORE_HEADER: &str = "roster-store";

/// Whole numbers in request bodies, as JSON Schema's `integer` has them: `5` and `5.0` alike
/// (some JSON encoders write every number with a fraction), and nothing with a fractional
/// part, negative or beyond `u64`.
mod whole {
    use serde::de::{self, Deserializer, Unexpected, Visitor};

    struct Whole;

    impl Visitor<'_> for Whole {
        type Value = u64;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a whole number from 0")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
            // 2^64 is the first float beyond u64; every float below it with no fraction fits.
            if v.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&v) {
                Ok(v as u64)
            } else {
                Err(E::invalid_value(Unexpected::Float(v), &self))
            }
        }
    }

    pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        d.deserialize_any(Whole)
    }

    struct MaybeWhole;

    impl<'de> Visitor<'de> for MaybeWhole {
        type Value = Option<u64>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a whole number from 0, or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            number(d).map(Some)
        }
    }

    pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        d.deserialize_option(MaybeWhole)
    }
}

/// `POST /v1/sessions`: open a session for a member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenSession {
    /// The member the session acts for.
    pub member_id: MemberId,
    /// How long the session lives without a heartbeat; the daemon's membership timeout when
    /// absent.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole::optional"
    )]
    pub ttl_ms: Option<u64>,
}

/// A session, as opened or looked up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Names the session in later calls.
    pub session_id: String,
    /// The member it acts for.
    pub member_id: MemberId,
    /// Its time to live without a heartbeat.
    pub ttl_ms: u64,
}

/// `POST /v1/sessions/{id}/heartbeat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Time before the session expires unless it heartbeats again.
    pub expires_in_ms: u64,
}

/// `PUT /v1/sessions/{id}/groups/{group}`: join a group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Join {
    /// The member's capabilities in the group (none when absent).
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Create the group first if it does not exist (tooz's `join_group_create`).
    #[serde(default)]
    pub create_group: bool,
}

/// `PUT /v1/sessions/{id}/groups/{group}/capabilities`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateCapabilities {
    /// The new capabilities.
    pub capabilities: Capabilities,
}

/// `POST /v1/sessions/{id}/elections/{group}/stand-down`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoodDown {
    /// Whether the member was the leader.
    pub was_leader: bool,
}

/// `POST /v1/sessions/{id}/locks/{lock}`: acquire a lock, or queue for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcquireLock {
    /// `exclusive` (the default) or `shared`.
    #[serde(default)]
    pub mode: LockMode,
    /// Whether to join the lock's queue when it is taken (else the answer is `busy`).
    #[serde(default)]
    pub wait: bool,
    /// With `wait`: how long the daemon waits for the grant before answering (`queued` if
    /// it has not come; the session stays queued). At most [`MAX_LOCK_WAIT_MS`]; 0 answers
    /// at once.
    #[serde(default, deserialize_with = "whole::number")]
    pub wait_ms: u64,
}

/// `POST /v1/sessions/{id}/locks/{lock}/wait`: wait for a lock the session is queued for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitForLock {
    /// How long the daemon waits for the grant before answering `queued`; at most
    /// [`MAX_LOCK_WAIT_MS`].
    #[serde(deserialize_with = "whole::number")]
    pub wait_ms: u64,
}

/// The longest a lock call waits in the daemon before it answers (a client waits longer by
/// asking again, keeping its place in the queue).
pub const MAX_LOCK_WAIT_MS: u64 = 60_000;

/// `DELETE /v1/sessions/{id}/locks/{lock}` and `POST .../abandon`: the token of the hold
/// released (or kept, for an abandoned wait that had been granted); `null` for a wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockToken {
    /// The hold's fencing token.
    pub token: Option<FencingToken>,
}

/// `POST /v1/sessions/{id}/locks/{lock}/break`: the tokens of the holds broken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenLock {
    /// One per hold that ended (none for a lock nobody held).
    pub tokens: Vec<FencingToken>,
}

/// `GET /v1/locks`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locks {
    /// Every lock with a holder or a waiter, sorted by name.
    pub locks: Vec<LockInfo>,
}

/// `GET /v1/groups`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Groups {
    /// The revision the overview was read at.
    pub revision: Revision,
    /// Every group, sorted by id.
    pub groups: Vec<GroupSummary>,
}

/// One member of a group, with what is known about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The member.
    pub member_id: MemberId,
    /// Its capabilities.
    pub capabilities: Capabilities,
    /// When it joined.
    pub joined_at_ms: u64,
    /// When its capabilities last changed.
    pub updated_at_ms: u64,
    /// Revision of its last change.
    pub revision: Revision,
    /// Time before it expires unless it heartbeats.
    pub expires_in_ms: u64,
}

impl Member {
    /// The wire form of `info`.
    pub fn new(member_id: MemberId, info: &MemberInfo) -> Self {
        Self {
            member_id,
            capabilities: info.capabilities.clone(),
            joined_at_ms: unix_ms(info.joined_at),
            updated_at_ms: unix_ms(info.updated_at),
            revision: info.revision,
            expires_in_ms: millis(info.expires_in),
        }
    }

    /// Back to the library's form.
    pub fn info(&self) -> MemberInfo {
        MemberInfo {
            capabilities: self.capabilities.clone(),
            joined_at: UNIX_EPOCH + Duration::from_millis(self.joined_at_ms),
            updated_at: UNIX_EPOCH + Duration::from_millis(self.updated_at_ms),
            revision: self.revision,
            expires_in: Duration::from_millis(self.expires_in_ms),
        }
    }
}

/// `GET /v1/groups/{group}/members`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Members {
    /// The group.
    pub group_id: GroupId,
    /// Its members, sorted by id.
    pub members: Vec<Member>,
}

/// `GET /v1/groups/{group}/leader`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderOf {
    /// The group.
    pub group_id: GroupId,
    /// Its leader, if it has one.
    pub leader: Option<Leader>,
}

/// `GET /v1/snapshot`: every group with its members, at one revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The store this was read from (see [`Status::store_id`]).
    pub store_id: String,
    /// The revision the snapshot reflects: stream events from the next one to keep it
    /// current.
    pub revision: Revision,
    /// Every group, sorted by id.
    pub groups: Vec<GroupState>,
}

/// One group in a [`Snapshot`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupState {
    /// The group.
    pub group_id: GroupId,
    /// How many members it has.
    pub member_count: usize,
    /// Its leader, if it has one.
    pub leader: Option<Leader>,
    /// Revision of its latest change.
    pub last_change: Revision,
    /// Its members in id order, at most `max_members` of them.
    pub members: Vec<Member>,
    /// Whether `members` lists every member.
    pub complete: bool,
}

/// `GET /healthz`: the process is up and answering.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `"up"`.
    pub status: String,
}

/// `GET /readyz`: the store answers, so calls can be served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ready {
    /// The store's newest revision, as it just said.
    pub store_revision: Revision,
    /// The newest revision of the daemon's copy of the store.
    pub mirror_revision: Revision,
}

/// `GET /v1/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The daemon's version.
    pub version: String,
    /// The backend store it serves.
    pub backend: String,
    /// Identifies the store: another id at the same address is a new store (a restarted
    /// `memory://` daemon), whose revisions start over.
    pub store_id: String,
    /// The newest revision.
    pub revision: Revision,
    /// The oldest revision the event stream can still resume from.
    pub oldest_revision: Revision,
    /// How many groups exist.
    pub groups: usize,
    /// How many network sessions are open.
    pub sessions: usize,
    /// How many plugins are attached.
    pub plugins: usize,
    /// The default session TTL (the membership timeout).
    pub membership_timeout_ms: u64,
    /// Time since the daemon started.
    pub uptime_ms: u64,
}

/// `GET /v1/plugins`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plugins {
    /// Every attached plugin's counters.
    pub plugins: Vec<PluginStats>,
    /// The latest plugin events (faults, restarts, quarantines, resyncs, reloads), oldest
    /// first; at most the daemon's last 256.
    pub recent_events: Vec<PluginEvent>,
    /// How many plugin events there have been since the daemon started: a reader that saw
    /// `n` before knows the last `events_total - n` of `recent_events` are new.
    pub events_total: u64,
}

/// The body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, for people (`message`) and programs (`code`, `detail`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable name: a coordination error's code (`group-not-created`, ...) or one of the
    /// API's own (`bad-request`, `session-not-found`, `not-found`, ...).
    pub code: String,
    /// A sentence naming the problem.
    pub message: String,
    /// The coordination error's fields, when it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

impl ErrorDetail {
    /// The coordination error this describes, when it is one.
    pub fn coordination_error(&self) -> Option<CoordinationError> {
        let mut tagged = serde_json::Map::new();
        tagged.insert("code".into(), self.code.clone().into());
        if let Some(detail) = &self.detail {
            tagged.insert("detail".into(), detail.clone());
        }
        serde_json::from_value(tagged.into()).ok()
    }
}

impl From<&CoordinationError> for ErrorDetail {
    fn from(error: &CoordinationError) -> Self {
        let detail = match serde_json::to_value(error) {
            Ok(serde_json::Value::Object(mut map)) => map.remove("detail"),
            _ => None,
        };
        Self {
            code: error.code(),
            message: error.to_string(),
            detail,
        }
    }
}

/// The `resync` message of the event stream, and the `resync` of a change-feed answer: the
/// reader cannot go on from where it asked to, for one of two reasons.
///
/// - `store` is the store the reader named (or it named none): the changes from `requested`
///   up to `oldest` are no longer kept there.
/// - `store` is another store than the reader named: the store it was reading was replaced
///   (a restarted `memory://` daemon), whose revisions start over; nothing the reader knew
///   holds there, whatever the revision numbers say.
///
/// Either way: reload the state (`GET /v1/snapshot`), then go on in `store`, which the feed
/// continues from `oldest`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resync {
    /// The first revision the reader asked for (of the store it named).
    pub requested: Revision,
    /// The revision of `store` the feed continues from.
    pub oldest: Revision,
    /// The store the feed continues in (see [`Status::store_id`]).
    pub store: String,
}

/// The query of `GET /v1/changes`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    /// The last revision the client has; the answer starts after it.
    pub after: Revision,
    /// Most events to return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<usize>,
    /// How long to wait for a change when there is none yet (0 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
    /// The store `after` is a revision of (the `store` of the client's last answer); any
    /// store when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
}

/// The query of `GET /v1/events`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// First revision to send; the next change when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Revision>,
    /// Only this group's events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The store `from` (or `Last-Event-ID`) is a revision of; any store when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
}

/// The answer of `GET /v1/changes`: the changes after a revision, in order, or the news
/// that some of them are gone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    /// The store the answer is of (see [`Status::store_id`]); the next poll names it.
    pub store: String,
    /// The store's newest revision when the answer was made.
    pub head: Revision,
    /// Changes in revision order, contiguous, starting right after the revision asked for
    /// (empty when nothing changed within the wait, or on a resync).
    pub events: Vec<Event>,
    /// Present when the reader cannot go on from the revision it asked for: the changes
    /// after it are no longer kept, or the store it named was replaced (see [`Resync`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resync: Option<Resync>,
}

/// Unix milliseconds of `time` (0 before the epoch).
pub fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, millis)
}

/// Whole milliseconds of `duration`, saturating.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by schemathesis: JSON Schema's `integer` takes `5.0`, which the daemon refused.
    #[test]
    fn whole_numbers_with_a_fraction_of_zero_are_read_as_whole_numbers() {
        let read = |json: &str| serde_json::from_str::<OpenSession>(json).map(|s| s.ttl_ms);
        assert_eq!(
            read(r#"{"member_id":"m","ttl_ms":362880.0}"#).unwrap(),
            Some(362_880)
        );
        assert_eq!(read(r#"{"member_id":"m","ttl_ms":5}"#).unwrap(), Some(5));
        assert_eq!(read(r#"{"member_id":"m","ttl_ms":null}"#).unwrap(), None);
        assert_eq!(read(r#"{"member_id":"m"}"#).unwrap(), None);
        for bad in ["5.5", "-1", "-1.0", "1e20", "\"5\"", "true"] {
            let json = format!(r#"{{"member_id":"m","ttl_ms":{bad}}}"#);
            assert!(read(&json).is_err(), "{json}");
        }
        let wait: WaitForLock = serde_json::from_str(r#"{"wait_ms":397.0}"#).unwrap();
        assert_eq!(wait.wait_ms, 397);
        let acquire: AcquireLock = serde_json::from_str(r#"{"wait":true,"wait_ms":1e3}"#).unwrap();
        assert_eq!(acquire.wait_ms, 1000);
        assert_eq!(serde_json::to_string(&wait).unwrap(), r#"{"wait_ms":397}"#);
    }

    #[test]
    fn coordination_errors_survive_the_error_body() {
        let error = CoordinationError::MemberNotJoined {
            group_id: GroupId::new("g").unwrap(),
            member_id: MemberId::new("m").unwrap(),
        };
        let detail = ErrorDetail::from(&error);
        assert_eq!(detail.code, "member-not-joined");
        assert_eq!(detail.message, error.to_string());
        let body: ErrorBody =
            serde_json::from_str(&serde_json::to_string(&ErrorBody { error: detail }).unwrap())
                .unwrap();
        assert_eq!(body.error.coordination_error(), Some(error));
    }

    #[test]
    fn api_only_errors_are_not_coordination_errors() {
        let detail = ErrorDetail {
            code: "session-not-found".into(),
            message: "no session x".into(),
            detail: None,
        };
        assert_eq!(detail.coordination_error(), None);
        let not_started = ErrorDetail::from(&CoordinationError::NotStarted);
        assert_eq!(
            not_started.coordination_error(),
            Some(CoordinationError::NotStarted)
        );
    }

    #[test]
    fn member_records_round_trip() {
        let info = MemberInfo {
            capabilities: "c".into(),
            joined_at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_000),
            updated_at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_500),
            revision: 7,
            expires_in: Duration::from_millis(1234),
        };
        let member = Member::new(MemberId::new("m").unwrap(), &info);
        assert_eq!(member.info(), info);
    }
}
