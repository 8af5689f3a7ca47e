//! The `logging` import (`wit/coordination.wit`): one implementation for handlers and drivers.
//!
//! A guest's log line goes to the host's `tracing`, at the guest's level, under its name:
//! the field `plugin` for a handler, `driver` for a driver. A handler's lines are also
//! limited (lines per second, bytes per line; the rest counted as dropped) and kept for its
//! statistics ([`LogSink`]), since a handler is third-party code attached at run time; a
//! driver's are passed on as they are.
//!
//! Each world's linker gets this import, with the `types` interface both worlds share, from
//! [`add_to_linker`], reading the [`GuestLog`] kept in the store's data.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{HasData, Linker};

use crate::wit::bindings::roster::coordination::{logging, types};
use logging::Level;

/// Which world a guest belongs to: names its log field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum World {
    /// A membership-event handler: its lines carry `plugin = NAME`.
    Handler,
    /// A backend driver: its lines carry `driver = NAME`.
    Driver,
}

/// Where a handler's log lines are counted and kept besides `tracing`.
pub(crate) trait LogSink: Send + Sync {
    /// A line was over the rate limit and dropped.
    fn dropped(&self);
    /// A line was logged, as `level: message`.
    fn kept(&self, line: String);
}

/// How much a handler may log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LogLimits {
    /// Lines per second; the rest are dropped.
    pub(crate) lines_per_second: u32,
    /// Bytes per line; a longer line is cut (at a character boundary) and ends with `…`.
    pub(crate) line_bytes: usize,
}

/// The rate limit's current one-second window.
struct Budget {
    limits: LogLimits,
    window: Instant,
    used: u32,
}

/// One guest's logging: who it is, and for a handler its limits and sink.
pub(crate) struct GuestLog {
    name: Arc<str>,
    world: World,
    budget: Option<Budget>,
    sink: Option<Arc<dyn LogSink>>,
}

impl GuestLog {
    /// The logging of handler `name`: limited by `limits`, every line kept in `sink`.
    pub(crate) fn handler(name: Arc<str>, limits: LogLimits, sink: Arc<dyn LogSink>) -> Self {
        Self {
            name,
            world: World::Handler,
            budget: Some(Budget {
                limits,
                window: Instant::now(),
                used: 0,
            }),
            sink: Some(sink),
        }
    }

    /// The logging of driver `name`: every line passed to `tracing` as it is.
    pub(crate) fn driver(name: Arc<str>) -> Self {
        Self {
            name,
            world: World::Driver,
            budget: None,
            sink: None,
        }
    }

    /// Whether the rate limit lets one more line through now.
    fn admit(&mut self) -> bool {
        let Some(budget) = &mut self.budget else {
            return true;
        };
        if budget.window.elapsed().as_secs() >= 1 {
            budget.window = Instant::now();
            budget.used = 0;
        }
        if budget.used >= budget.limits.lines_per_second {
            return false;
        }
        budget.used += 1;
        true
    }

    /// `message`, cut to the line limit.
    fn fit(&self, mut message: String) -> String {
        if let Some(budget) = &self.budget
            && message.len() > budget.limits.line_bytes
        {
            let mut cut = budget.limits.line_bytes;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        message
    }
}

/// One `tracing` event at the guest's `level`, with the guest's name in `field`.
macro_rules! emit {
    ($level:expr, $field:ident = $name:expr, $message:expr) => {
        match $level {
            Level::Trace => tracing::trace!($field = $name, "{}", $message),
            Level::Debug => tracing::debug!($field = $name, "{}", $message),
            Level::Info => tracing::info!($field = $name, "{}", $message),
            Level::Warn => tracing::warn!($field = $name, "{}", $message),
            Level::Error => tracing::error!($field = $name, "{}", $message),
        }
    };
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Trace => "trace",
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

impl logging::Host for GuestLog {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        if !self.admit() {
            if let Some(sink) = &self.sink {
                sink.dropped();
            }
            return Ok(());
        }
        let message = self.fit(message);
        let name = &*self.name;
        match self.world {
            World::Handler => emit!(level, plugin = name, message),
            World::Driver => emit!(level, driver = name, message),
        }
        if let Some(sink) = &self.sink {
            sink.kept(format!("{}: {message}", level_name(level)));
        }
        Ok(())
    }
}

/// The `types` interface defines types only: linking it gives the guest nothing to call.
impl types::Host for GuestLog {}

/// Lends the linker a store's [`GuestLog`].
struct LogOf;

impl HasData for LogOf {
    type Data<'a> = &'a mut GuestLog;
}

/// Link the imports every world has, `types` and `logging`, for stores whose data keeps its
/// [`GuestLog`] where `log` finds it.
///
/// # Errors
/// The linker already defines them.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    log: fn(&mut T) -> &mut GuestLog,
) -> wasmtime::Result<()> {
    types::add_to_linker::<T, LogOf>(linker, log)?;
    logging::add_to_linker::<T, LogOf>(linker, log)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Kept {
        lines: Mutex<Vec<String>>,
        dropped: Mutex<u32>,
    }

    impl LogSink for Kept {
        fn dropped(&self) {
            *self.dropped.lock().unwrap() += 1;
        }
        fn kept(&self, line: String) {
            self.lines.lock().unwrap().push(line);
        }
    }

    fn log(guest: &mut GuestLog, message: &str) {
        let logged = logging::Host::log(guest, Level::Info, message.to_owned());
        futures_util::FutureExt::now_or_never(logged)
            .expect("logging does not wait")
            .unwrap();
    }

    #[test]
    fn a_handler_over_its_rate_loses_lines_and_a_long_line_is_cut() {
        let kept = Arc::new(Kept::default());
        let limits = LogLimits {
            lines_per_second: 2,
            line_bytes: 2,
        };
        let mut guest = GuestLog::handler("h".into(), limits, kept.clone());
        // The second line is cut inside `é`, so at the character before it.
        for message in ["ab", "hé", "three"] {
            log(&mut guest, message);
        }
        assert_eq!(*kept.lines.lock().unwrap(), ["info: ab", "info: h…"]);
        assert_eq!(*kept.dropped.lock().unwrap(), 1);
    }

    #[test]
    fn a_driver_logs_every_line_whole() {
        let mut guest = GuestLog::driver("d".into());
        let long = "x".repeat(10_000);
        for _ in 0..1_000 {
            assert!(guest.admit());
        }
        assert_eq!(guest.fit(long.clone()), long);
    }
}
