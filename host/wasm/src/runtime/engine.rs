//! The process's wasmtime engine and its epoch ticker, shared by handlers and drivers.
//!
//! Deadlines work by epoch interruption: a store's code checks the engine's epoch at every
//! loop head and function entry, and yields to the async runtime when it has moved on, so a
//! guest computing without end cannot hold a thread and its call's timeout can fire. One
//! thread, `roster-epoch`, advances the epoch every [`EPOCH_TICK`] for every store of the
//! process; it is started with the engine, the first time a handler host or a driver needs
//! one, and lives as long as the process.

use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::{Config, Engine, ResourceLimiter, Store, StoreLimits};

/// How often the epoch advances; a running guest yields to other tasks at every tick.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Why the runtime could not be set up: a fault of the host or its environment, never of a
/// component. The engine's own failures are remembered: every later use reports the same.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EngineError {
    /// wasmtime refused the engine's configuration (for example a platform it cannot compile
    /// for).
    #[error("wasmtime refuses the engine configuration: {0}")]
    Config(String),
    /// The operating system would not start the epoch ticker's thread.
    #[error("cannot start the epoch ticker thread: {0}")]
    Ticker(String),
    /// The host's own imports could not be added to a world's linker (a host bug: the same
    /// name defined twice).
    #[error("cannot link the host's imports: {0}")]
    Linker(String),
}

/// The process's engine, made (with its ticker) on first use.
///
/// # Errors
/// The [`EngineError`] of the first attempt, which is not repeated.
pub(crate) fn engine() -> Result<&'static Engine, EngineError> {
    static ENGINE: OnceLock<Result<Engine, EngineError>> = OnceLock::new();
    ENGINE.get_or_init(start).as_ref().map_err(Clone::clone)
}

/// The one configuration every component runs under: the component model, epoch
/// interruption for deadlines, and no component-model concurrency (calls into one store are
/// made one at a time).
fn config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.concurrency_support(false);
    config
}

fn start() -> Result<Engine, EngineError> {
    let engine = Engine::new(&config()).map_err(|e| EngineError::Config(format!("{e:#}")))?;
    let ticking = engine.clone();
    std::thread::Builder::new()
        .name("roster-epoch".into())
        .spawn(move || {
            loop {
                ticking.increment_epoch();
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map_err(|e| EngineError::Ticker(e.to_string()))?;
    Ok(engine)
}

/// A store for one guest instance, holding `data`: its memory and instance counts capped by
/// the [`StoreLimits`] `limits` finds in the data, and yielding at every epoch tick (the
/// caller's timeout is the deadline).
pub(crate) fn new_store<T: Send + 'static>(
    engine: &Engine,
    data: T,
    limits: fn(&mut T) -> &mut StoreLimits,
) -> Store<T> {
    let mut store = Store::new(engine, data);
    store.limiter(move |data| limits(data) as &mut dyn ResourceLimiter);
    store.set_epoch_deadline(1);
    store.epoch_deadline_async_yield_and_update(1);
    store
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_caller_gets_the_same_engine() {
        let first = engine().unwrap();
        let second = engine().unwrap();
        assert!(Engine::same(first, second));
    }
}
