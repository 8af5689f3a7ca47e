//! `--no-tui`: the same events, printed as JSON lines on stdout (one `roster::Event` per
//! line, tagged by `kind`), for scripts and as a test oracle. Connection changes and source
//! notices go to the log file, so stdout stays pure JSON.

use std::io::{self, Write};

use tokio::sync::mpsc;

use crate::source::Update;

/// Print every event of `updates` as a JSON line to `out`, dropping revisions already
/// printed; stop after `limit` events when given, or when the updates end.
///
/// # Errors
/// Writing to `out` failed (a closed pipe ends the run quietly instead).
pub async fn run(
    mut updates: mpsc::Receiver<Update>,
    out: &mut impl Write,
    limit: Option<u64>,
) -> io::Result<()> {
    let mut printed = 0;
    let mut last = None;
    while limit.is_none_or(|limit| printed < limit) {
        let Some(update) = updates.recv().await else {
            break;
        };
        match update {
            Update::Event { event, .. } => {
                if last.is_some_and(|last| event.revision() <= last) {
                    continue;
                }
                last = Some(event.revision());
                let line = serde_json::to_string(&event).map_err(io::Error::other)?;
                match writeln!(out, "{line}").and_then(|()| out.flush()) {
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
                    other => other?,
                }
                printed += 1;
            }
            Update::Connection(state) => tracing::info!(?state, "connection"),
            Update::Notice(text) => tracing::warn!("{text}"),
            Update::HistoryLost { oldest } => tracing::warn!(oldest, "history lost"),
            Update::Restarted => {
                tracing::warn!("the source's store restarted; revisions start over");
                last = None;
            }
            Update::Snapshot(_) | Update::Plugins(_) | Update::PluginEvent(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use roster::{Capabilities, Event, GroupId, MemberId, MemberJoined};

    use super::*;
    use crate::source::ConnectionState;

    fn joined(revision: u64) -> Update {
        Update::Event {
            event: Event::MemberJoined(MemberJoined {
                revision,
                group_id: GroupId::new("g").unwrap(),
                member_id: MemberId::new("m").unwrap(),
                capabilities: Capabilities::none(),
            }),
            at: SystemTime::UNIX_EPOCH,
        }
    }

    #[tokio::test]
    async fn prints_each_event_once_as_a_json_line_and_stops_at_the_limit() {
        let (sender, updates) = mpsc::channel(16);
        for update in [
            Update::Connection(ConnectionState::Connected),
            joined(1),
            joined(2),
            joined(2),
            Update::Restarted,
            joined(1),
            joined(5),
        ] {
            sender.send(update).await.unwrap();
        }
        let mut out = Vec::new();
        run(updates, &mut out, Some(3)).await.unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let revisions: Vec<u64> = lines
            .iter()
            .map(|l| l["revision"].as_u64().unwrap())
            .collect();
        assert_eq!(
            revisions,
            [1, 2, 1],
            "a repeat is dropped; a restart starts over"
        );
        assert_eq!(lines[0]["kind"], "member-joined");
    }
}
