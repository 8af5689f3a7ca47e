//! The event loop: updates from the source, keys from the terminal and a 1 Hz tick feed the
//! app; the screen is redrawn only when something changed, at most `fps` times a second.
//!
//! Updates are drained in batches (everything already queued is applied before one draw),
//! so a burst of thousands of events costs one frame. The tick exists only because ages on
//! screen change with time; with no events and no keys the loop sleeps, so an idle monitor
//! uses next to no CPU.

use std::io;
use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use crate::app::App;
use crate::source::Update;

/// Most updates applied before a frame is considered.
const BATCH: usize = 4_096;

/// Run until the operator quits or input ends: apply `updates`, handle keys from the
/// terminal, draw on `terminal` at most `fps` times a second.
///
/// # Errors
/// Drawing or reading the terminal failed.
pub async fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    mut updates: mpsc::Receiver<Update>,
    fps: u32,
) -> io::Result<()>
where
    B::Error: Into<io::Error>,
{
    let frame = Duration::from_secs(1) / fps.max(1);
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut dirty = true;
    let mut next_frame = Instant::now();
    let mut source_open = true;
    loop {
        if dirty && Instant::now() >= next_frame {
            terminal
                .draw(|f| crate::ui::render(f, app))
                .map_err(Into::into)?;
            dirty = false;
            next_frame = Instant::now() + frame;
        }
        if app.should_quit {
            return Ok(());
        }
        tokio::select! {
            update = updates.recv(), if source_open => match update {
                Some(update) => {
                    app.apply(update);
                    for _ in 0..BATCH {
                        match updates.try_recv() {
                            Ok(update) => app.apply(update),
                            Err(_) => break,
                        }
                    }
                    dirty = true;
                }
                None => source_open = false,
            },
            key = keys.next() => match key {
                Some(Ok(TermEvent::Key(key))) => {
                    app.handle_key(key);
                    dirty = true;
                }
                Some(Ok(TermEvent::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            },
            _ = tick.tick() => dirty = true,
            () = tokio::time::sleep_until(next_frame), if dirty => {}
        }
    }
}
