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
