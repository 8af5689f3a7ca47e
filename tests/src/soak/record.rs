//! What a soak host writes down: one JSON line per thing it did or saw, each with the wall-clock
//! time it happened, appended and flushed at once so a host killed with SIGKILL leaves a
//! record that is whole up to its last line.
//!
//! Every host of a soak runs on one machine, so their clocks are one clock: the checker
//! compares times across hosts.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use roster::{Capabilities, Event, Revision, StoreState};
use serde::{Deserialize, Serialize};

/// Nanoseconds since the Unix epoch, now.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| u64::try_from(t.as_nanos()).unwrap_or(u64::MAX))
}

/// One line of a host's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// When (nanoseconds since the Unix epoch).
    pub at: u64,
    /// What.
    #[serde(flatten)]
    pub entry: Entry,
}

/// What a line of a host's record says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Entry {
    /// The host's coordinator started a session as `member`.
    Started {
        /// Its member id (one per host process: a restarted host is a new member).
        member: String,
    },
    /// A heartbeat was sent (at `sent`) and answered, successfully or not, at the line's time.
    Beat {
        /// When it was sent.
        sent: u64,
        /// Why the store did not take it, as displayed; `None` when it did.
        error: Option<String>,
        /// Whether the session was live afterwards: the beat succeeded, or it found the
        /// session expired and reopened it (failing with the notice).
        renewed: bool,
    },
    /// A call is sent (the line's time); its answer follows as [`Entry::Answer`] with the same
    /// `id`, unless the host died first.
    Call {
        /// Numbers the host's calls.
        id: u64,
        /// Which operation.
        op: Op,
        /// The group or lock it is about (empty for `stop`).
        target: String,
    },
    /// The answer to the call `id`.
    Answer {
        /// The call's number.
        id: u64,
        /// The error, as displayed; `None` for a success.
        error: Option<String>,
        /// Whether it failed with the notice of the session's expiry, having reopened it.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        reopened: bool,
    },
    /// The host's reader starts, or starts over after losing history: the store it reads and
    /// the state it starts from. Events that follow belong to this store.
    Segment {
        /// The store's id.
        store: String,
        /// Its state at the revision the reader starts from.
        state: State,
    },
    /// An event the host's reader read.
    Event {
        /// The event.
        event: Event,
    },
    /// The host's reader reported that history it needed is gone (as displayed); a
    /// [`Entry::Segment`] follows.
    Lost {
        /// The error.
        error: String,
    },
    /// What the host reads at the end, once it has stopped its workload and caught up with
    /// the store's head.
    Final {
        /// The store's id.
        store: String,
        /// Its state.
        state: State,
    },
}

/// The operations of the soak workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// `join_group_with`.
    Join,
    /// `leave_group`.
    Leave,
    /// `update_capabilities`.
    UpdateCapabilities,
    /// `watch_elected_as_leader`: stand for election.
    Stand,
    /// `stand_down_group_leader`.
    StandDown,
    /// `unwatch_elected_as_leader`: withdraw the candidacy.
    Withdraw,
    /// `create_group`.
    CreateGroup,
    /// `delete_group`.
    DeleteGroup,
    /// A lock's `acquire` without waiting, exclusive.
    LockExclusive,
    /// A lock's `acquire` without waiting, shared.
    LockShared,
    /// A lock's `release`.
    Unlock,
    /// `get_members`.
    GetMembers,
    /// The coordinator's `stop`: it leaves every group.
    Stop,
}

/// A store's groups, as a reader sees them at one revision.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The revision.
    pub revision: Revision,
    /// Every group, by id.
    pub groups: BTreeMap<String, GroupView>,
}

/// One group of a [`State`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupView {
    /// Its members and their capabilities.
    pub members: BTreeMap<String, Capabilities>,
    /// Its leader and term.
    pub leader: Option<(String, u64)>,
}

impl From<StoreState> for State {
    fn from(state: StoreState) -> Self {
        let groups = state
            .groups
            .into_iter()
            .map(|group| {
                let view = GroupView {
                    members: group
                        .members
                        .into_iter()
                        .map(|(member, capabilities)| (member.to_string(), capabilities))
                        .collect(),
                    leader: group
                        .leader
                        .map(|leader| (leader.member_id.to_string(), leader.term)),
                };
                (group.group.to_string(), view)
            })
            .collect();
        Self {
            revision: state.revision,
            groups,
        }
    }
}

/// Appends lines to a host's record, each written whole and flushed.
#[derive(Debug)]
pub struct Recorder {
    file: std::sync::Mutex<std::fs::File>,
}

impl Recorder {
    /// Append to the record at `path` (created if missing).
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub fn append_to(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self {
            file: std::sync::Mutex::new(file),
        })
    }

    /// Write `entry`, stamped now.
    pub fn write(&self, entry: Entry) {
        self.write_at(now_ns(), entry);
    }

    /// Write `entry`, stamped `at`.
    pub fn write_at(&self, at: u64, entry: Entry) {
        let mut line = serde_json::to_vec(&Line { at, entry }).expect("records serialize");
        line.push(b'\n');
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // One write per line: a kill between two lines never leaves half of one.
        if let Err(error) = file.write_all(&line) {
            eprintln!("cannot write the soak record: {error}");
        }
    }
}

/// Read a host's record. A last line cut short (a host killed while writing it) is dropped.
///
/// # Errors
/// When the file cannot be read, or a line before the last is not a record line.
pub fn read(path: &Path) -> Result<Vec<Line>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let lines: Vec<String> = std::io::BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let count = lines.len();
    let mut read = Vec::with_capacity(count);
    for (number, text) in lines.iter().enumerate() {
        match serde_json::from_str(text) {
            Ok(line) => read.push(line),
            Err(_) if number + 1 == count => {}
            Err(error) => {
                return Err(format!(
                    "{}:{}: {error}: {text}",
                    path.display(),
                    number + 1
                ));
            }
        }
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_what_was_written_and_drops_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h1.jsonl");
        let recorder = Recorder::append_to(&path).unwrap();
        recorder.write_at(
            5,
            Entry::Started {
                member: "h1-1".into(),
            },
        );
        recorder.write_at(
            6,
            Entry::Call {
                id: 1,
                op: Op::Join,
                target: "g0".into(),
            },
        );
        drop(recorder);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(br#"{"at": 7, "kind": "ans"#).unwrap();
        let lines = read(&path).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[1],
            Line {
                at: 6,
                entry: Entry::Call {
                    id: 1,
                    op: Op::Join,
                    target: "g0".into()
                }
            }
        );
    }
}
