//! A source that plays back prepared connections, for tests and benchmarks.
//!
//! Each call to [`Source::connect`] takes the next [`Script`]: either a refusal, or a list of
//! updates (and errors) the feed yields before it ends or stays open. The revisions each
//! connection was asked to start from are recorded, so tests can check where a reconnect
//! resumed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use roster::Revision;

use super::{Feed, Source, SourceError, Update};

/// What one connection does.
#[derive(Clone, Debug)]
pub enum Script {
    /// The connection attempt fails with this reason.
    Refuse(String),
    /// The connection succeeds and yields these items, then ends (the source "goes away").
    Close(Vec<Result<Update, SourceError>>),
    /// The connection succeeds, yields these items and then stays open without more.
    Hold(Vec<Result<Update, SourceError>>),
}

/// A [`Source`] that plays [`Script`]s in order; once they run out it refuses.
#[derive(Clone, Debug)]
pub struct ScriptedSource {
    scripts: Arc<Mutex<VecDeque<Script>>>,
    requests: Arc<Mutex<Vec<Option<Revision>>>>,
}

impl ScriptedSource {
    /// A source that plays `scripts`, one per connection.
    pub fn new(scripts: impl IntoIterator<Item = Script>) -> Self {
        Self {
            scripts: Arc::new(Mutex::new(scripts.into_iter().collect())),
            requests: Arc::default(),
        }
    }

    /// The `from` revision of every connection attempt so far.
    pub fn requests(&self) -> Vec<Option<Revision>> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Source for ScriptedSource {
    fn describe(&self) -> String {
        "scripted".to_owned()
    }

    async fn connect(&mut self, from: Option<Revision>) -> Result<Feed, SourceError> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(from);
        let next = self
            .scripts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        match next {
            None => Err(SourceError::Connection("script exhausted".into())),
            Some(Script::Refuse(reason)) => Err(SourceError::Connection(reason)),
            Some(Script::Close(items)) => Ok(futures_util::stream::iter(items).boxed()),
            Some(Script::Hold(items)) => Ok(futures_util::stream::iter(items)
                .chain(futures_util::stream::pending())
                .boxed()),
        }
    }
}
