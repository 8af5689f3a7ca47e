//! Appends every membership event as one JSON line to `/data/audit.jsonl`: an audit trail.
//! Needs the `directory` grant (the host shows the granted directory as `/data`).

use std::fs::OpenOptions;
use std::io::Write;

use handler_kit::types::{LeaveReason, MembershipEvent};
use handler_kit::{EventExt, Handler, Result, Resync};

const TRAIL: &str = "/data/audit.jsonl";

/// The lines of the batch being handled, appended together at its end.
#[derive(Default)]
struct AuditTrail {
    batch: String,
}

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
    let (member, extra) = match event {
        MembershipEvent::GroupCreated(_) | MembershipEvent::GroupDeleted(_) => {
            (None, String::new())
        }
        MembershipEvent::MemberJoined(e) => (Some(&e.member_id), String::new()),
        MembershipEvent::MemberLeft(e) => {
            let reason = match e.reason {
                LeaveReason::Left => "left",
                LeaveReason::Expired => "expired",
                LeaveReason::SessionLost => "session-lost",
                LeaveReason::GroupDeleted => "group-deleted",
            };
            (Some(&e.member_id), format!(",\"reason\":\"{reason}\""))
        }
        MembershipEvent::CapabilitiesUpdated(e) => (Some(&e.member_id), String::new()),
        MembershipEvent::LeaderElected(e) => (Some(&e.member_id), format!(",\"term\":{}", e.term)),
        MembershipEvent::LeaderLost(e) => (Some(&e.member_id), format!(",\"term\":{}", e.term)),
        MembershipEvent::LockAcquired(e) => (Some(&e.member_id), format!(",\"token\":{}", e.token)),
        MembershipEvent::LockReleased(e) => (Some(&e.member_id), format!(",\"token\":{}", e.token)),
    };
    let member = member
        .map(|m| format!(",\"member\":{}", quoted(m)))
        .unwrap_or_default();
    let subject = if event.lock().is_some() {
        "lock"
    } else {
        "group"
    };
    format!(
        "{{\"revision\":{},\"kind\":\"{}\",\"{subject}\":{}{member}{extra}}}\n",
        event.revision(),
        event.kind(),
        quoted(event.subject())
    )
}

fn append(text: &str) -> Result {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(TRAIL)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot append to {TRAIL}: {e}"))
}

impl Handler for AuditTrail {
    fn event(&mut self, event: &MembershipEvent) -> Result {
        self.batch.push_str(&line(event));
        Ok(())
    }

    fn batch_handled(&mut self, _last: u64) -> Result {
        // Taken either way: a batch that fails is delivered again, and written again.
        append(&std::mem::take(&mut self.batch))
    }

    fn resync(&mut self, snapshot: &Resync) -> Result {
        append(&format!(
            "{{\"revision\":{},\"kind\":\"resync\",\"groups\":{}}}\n",
            snapshot.revision,
            snapshot.groups.len()
        ))
    }
}

handler_kit::export_handler!(AuditTrail);
