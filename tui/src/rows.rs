//! The text of each pane's rows, shared by the screen and by exports, so an exported file
//! holds exactly the columns the pane shows.

use std::time::{Duration, SystemTime};

use roster::plugin::PluginStats;

use crate::model::history::Row;
use crate::model::locks::{Holder, Lock};
use crate::model::plugins::{self, Plugins};
use crate::model::tables::{Group, Member};
use crate::timefmt::TimeFormat;

/// Column headers of the groups pane.
pub const GROUP_HEADERS: [&str; 5] = ["GROUP", "MEMBERS", "LEADER", "TERM", "CHANGED"];
/// Column headers of the members pane.
pub const MEMBER_HEADERS: [&str; 5] = ["MEMBER", "STATE", "JOINED", "HEARTBEAT", "CAPABILITIES"];
/// Column headers of the events pane.
pub const EVENT_HEADERS: [&str; 5] = ["REV", "TIME", "KIND", "GROUP", "DETAIL"];
/// Column headers of the locks pane.
pub const LOCK_HEADERS: [&str; 6] = ["LOCK", "HOLDER", "MODE", "TOKEN", "HELD FOR", "WAITERS"];
/// Column headers of the plugins pane.
pub const PLUGIN_HEADERS: [&str; 9] = [
    "PLUGIN",
    "STATE",
    "EVENTS",
    "ERRORS",
    "TRAPS",
    "RESTARTS",
    "QUEUE",
    "P99",
    "LAST EVENT",
];

/// A group's cells.
pub fn group_cells(group: &Group, now: SystemTime, format: TimeFormat) -> [String; 5] {
    let changed = match (group.last_change, group.last_change_at) {
        (Some(rev), Some(at)) => format!("#{rev} {}", format.show(at, now)),
        (Some(rev), None) => format!("#{rev}"),
        _ => "-".to_owned(),
    };
    [
        group.id.to_string(),
        group.member_count.to_string(),
        group
            .leader
            .as_ref()
            .map_or_else(|| "-".to_owned(), |l| l.member_id.to_string()),
        group
            .leader
            .as_ref()
            .map_or_else(|| "-".to_owned(), |l| l.term.to_string()),
        changed,
    ]
}

/// A member's cells; `leader` says whether it leads the group.
pub fn member_cells(
    member: &Member,
    leader: bool,
    now: SystemTime,
    format: TimeFormat,
) -> [String; 5] {
    let state = member.liveness(now).name();
    let state = if leader {
        format!("{state} ★")
    } else {
        state.to_owned()
    };
    [
        member.id.to_string(),
        state,
        format.show(member.joined_at, now),
        member
            .last_heartbeat
            .map_or_else(|| "-".to_owned(), |at| TimeFormat::Relative.show(at, now)),
        member.capabilities_text(),
    ]
}

/// A history row's cells.
pub fn event_cells(row: &Row, now: SystemTime, format: TimeFormat) -> [String; 5] {
    let revision = match row {
        Row::Restart { .. } => "-".to_owned(),
        _ => row.revision().to_string(),
    };
    [
        revision,
        format.show(row.at(), now),
        row.kind_name().to_owned(),
        row.group().unwrap_or("-").to_owned(),
        row.detail(),
    ]
}

/// How long `holder` has held its lock at `now`: `≥` marks a hold first seen in a snapshot,
/// whose acquisition the monitor did not see.
pub fn held_for(holder: &Holder, now: SystemTime) -> String {
    let age = crate::timefmt::age(now.duration_since(holder.since).unwrap_or_default());
    if holder.exact {
        age
    } else {
        format!("≥{age}")
    }
}

/// A lock's cells: its first holder (and how many more share it), the mode, the newest
/// fencing token, how long the longest holder has held it, and how many wait, with the
/// waiters in the order they will be served.
pub fn lock_cells(lock: &Lock, now: SystemTime) -> [String; 6] {
    let holder = match lock.holders.as_slice() {
        [] => "-".to_owned(),
        [only] => only.member_id.to_string(),
        [first, rest @ ..] => format!("{} +{}", first.member_id, rest.len()),
    };
    [
        lock.name.to_string(),
        holder,
        lock.mode()
            .map_or_else(|| "-".to_owned(), |m| m.to_string()),
        lock.newest_token()
            .map_or_else(|| "-".to_owned(), |t| t.to_string()),
        lock.longest_holder()
            .map_or_else(|| "-".to_owned(), |h| held_for(h, now)),
        match lock.waiters.as_slice() {
            [] => "0".to_owned(),
            waiters => {
                let names: Vec<&str> = waiters.iter().map(|w| w.member_id.as_str()).collect();
                format!("{}: {}", waiters.len(), names.join(", "))
            }
        },
    ]
}

fn millis(d: Duration) -> String {
    format!("{:.2}ms", d.as_secs_f64() * 1e3)
}

/// A plugin's cells.
pub fn plugin_cells(
    stats: &PluginStats,
    all: &Plugins,
    now: SystemTime,
    format: TimeFormat,
) -> [String; 9] {
    let last = all.last_event(&stats.name).map_or_else(
        || "-".to_owned(),
        |e| format!("{} {}", format.show(e.at, now), plugins::describe(&e.kind)),
    );
    [
        stats.name.clone(),
        plugins::state_name(&stats.state).to_owned(),
        stats.events_delivered.to_string(),
        stats.errors.to_string(),
        (stats.traps + stats.deadline_overruns).to_string(),
        stats.restarts.to_string(),
        stats.queue_depth.to_string(),
        millis(stats.call_p99),
        last,
    ]
}
