//! Appends every membership event as one JSON line to `/data/audit.jsonl`: an audit trail.
//! Needs the `directory` grant (the host shows the granted directory as `/data`).

wit_bindgen::generate!({ path: "../../../wit", world: "roster:coordination/handler" });

use std::fs::OpenOptions;
use std::io::Write;

use exports::roster::coordination::events::{Guest, Resync};
use roster::coordination::types::{LeaveReason, MembershipEvent};

const TRAIL: &str = "/data/audit.jsonl";

struct AuditTrail;

/// A JSON string literal.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn line(event: &MembershipEvent) -> String {
    let (kind, revision, group, member, extra) = match event {
        MembershipEvent::GroupCreated(e) => (
            "group-created",
            e.revision,
            &e.group_id,
            None,
            String::new(),
        ),
        MembershipEvent::GroupDeleted(e) => (
            "group-deleted",
            e.revision,
            &e.group_id,
            None,
            String::new(),
        ),
        MembershipEvent::MemberJoined(e) => (
            "member-joined",
            e.revision,
            &e.group_id,
            Some(&e.member_id),
            String::new(),
        ),
        MembershipEvent::MemberLeft(e) => {
            let reason = match e.reason {
                LeaveReason::Left => "left",
                LeaveReason::Expired => "expired",
                LeaveReason::SessionLost => "session-lost",
                LeaveReason::GroupDeleted => "group-deleted",
            };
            (
                "member-left",
                e.revision,
                &e.group_id,
                Some(&e.member_id),
                format!(",\"reason\":\"{reason}\""),
            )
        }
        MembershipEvent::CapabilitiesUpdated(e) => (
            "capabilities-updated",
            e.revision,
            &e.group_id,
            Some(&e.member_id),
            String::new(),
        ),
        MembershipEvent::LeaderElected(e) => (
            "leader-elected",
            e.revision,
            &e.group_id,
            Some(&e.member_id),
            format!(",\"term\":{}", e.term),
        ),
        MembershipEvent::LeaderLost(e) => (
            "leader-lost",
            e.revision,
            &e.group_id,
            Some(&e.member_id),
            format!(",\"term\":{}", e.term),
        ),
    };
    let member = member
        .map(|m| format!(",\"member\":{}", quoted(m)))
        .unwrap_or_default();
    format!(
        "{{\"revision\":{revision},\"kind\":\"{kind}\",\"group\":{}{member}{extra}}}\n",
        quoted(group)
    )
}

fn append(text: &str) -> Result<(), String> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(TRAIL)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot append to {TRAIL}: {e}"))
}

impl Guest for AuditTrail {
    fn on_events(events: Vec<MembershipEvent>) -> Result<(), String> {
        append(&events.iter().map(line).collect::<String>())
    }

    fn on_resync(snapshot: Resync) -> Result<(), String> {
        append(&format!(
            "{{\"revision\":{},\"kind\":\"resync\",\"groups\":{}}}\n",
            snapshot.revision,
            snapshot.groups.len()
        ))
    }
}

export!(AuditTrail);
