//! A text capture of the monitor running the demo, as shown in the README:
//! `cargo run -p roster-tui --example capture -- [SECONDS] [WIDTH] [HEIGHT]`.
//!
//! Runs the real `--demo` source (embedded host, generated traffic, example plugins) for
//! SECONDS (default 20), feeding the same app the binary uses, then draws one frame on a
//! ratatui `TestBackend` (default 120×40) and prints it.

use std::sync::Arc;
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use roster_tui::app::{App, AppOptions};
use roster_tui::clock::SystemClock;
use roster_tui::source::Source;
use roster_tui::source::demo::{DemoOptions, DemoSource, built_plugin_dir};
use roster_tui::source::supervisor::{Backoff, supervise};

fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds = arg(1, 20);
    let width = u16::try_from(arg(2, 120)).unwrap_or(120);
    let height = u16::try_from(arg(3, 40)).unwrap_or(40);
    let source = DemoSource::new(DemoOptions {
        plugin_dir: built_plugin_dir(),
        ..DemoOptions::default()
    });
    let mut app = App::new(
        AppOptions {
            source: source.describe(),
            ..AppOptions::default()
        },
        Arc::new(SystemClock),
    );
    let (sender, mut updates) = tokio::sync::mpsc::channel(16_384);
    tokio::spawn(supervise(source, sender, Backoff::default()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        tokio::select! {
            update = updates.recv() => match update {
                Some(update) => app.apply(update),
                None => break,
            },
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|f| roster_tui::ui::render(f, &app))
        .expect("draw");
    let buffer = terminal.backend().buffer();
    for y in 0..buffer.area.height {
        let line: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol())
            .collect();
        println!("{}", line.trim_end());
    }
}
