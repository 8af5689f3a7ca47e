//! `roster://`'s driver ([`DaemonDriver`]) against a daemon served in this process: what its
//! change feed answers when the daemon restarts with a new store.

use std::net::SocketAddr;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use std::time::Duration;

use roster::client::Client;
use roster::driver::daemon::DaemonDriver;
use roster::driver::{Changes, Driver};
use roster_types::Revision;

use crate::{ServeConfig, ServeError, Server};

/// A daemon serving a new `memory://` store on `listen`, in this process.
struct Serving {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::result::Result<(), ServeError>>,
}

impl Serving {
    async fn start(listen: SocketAddr) -> Self {
        let server = Server::bind(ServeConfig {
            listen,
            backend: format!("memory://driver-{}", uuid::Uuid::new_v4().simple()),
            ..ServeConfig::default()
        })
        .await
        .expect("the daemon starts");
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Self { addr, stop, task }
    }

    async fn restart(self) -> Self {
        let addr = self.addr;
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
        Self::start(addr).await
    }

    /// Make `count` changes; returns the head.
    async fn changes(&self, count: usize) -> Revision {
        let client = Client::new(&self.addr.to_string()).unwrap();
        let mut head = 0;
        for _ in 0..count {
            let group = uuid::Uuid::new_v4().simple().to_string();
            head = client.create_group(&group).await.unwrap();
        }
        head
    }
}

fn events(answer: &Changes) -> Vec<Revision> {
    match answer {
        Changes::Events { events, .. } => events.iter().map(|e| e.revision()).collect(),
        Changes::Resync { .. } => panic!("a resync: {answer:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_that_outlives_its_daemon_is_told_the_store_was_replaced() {
    let daemon = Serving::start("127.0.0.1:0".parse().unwrap()).await;
    let driver = DaemonDriver::new(&daemon.addr.to_string(), Duration::from_secs(30)).unwrap();
    let first = driver.describe().await.unwrap();
    daemon.changes(3).await;
    let read = driver
        .changes(first.head, 100, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(events(&read), [1, 2, 3]);

    // Restarted, the daemon's new store gets past the feed's revision: the changes after
    // 3 are not its 4 and 5.
    let daemon = daemon.restart().await;
    assert_eq!(daemon.changes(5).await, 5);
    let answer = driver.changes(3, 100, Duration::ZERO).await.unwrap();
    assert!(
        matches!(
            answer,
            Changes::Resync {
                requested: 4,
                oldest: 1,
                head: 5
            }
        ),
        "{answer:?}"
    );
    // Asked again (the feed could not read the store anew), it says so again.
    let again = driver.changes(3, 100, Duration::ZERO).await.unwrap();
    assert!(matches!(again, Changes::Resync { .. }), "{again:?}");

    // Started over at the new store's head, the feed follows it.
    let second = driver.describe().await.unwrap();
    assert_ne!(second.store_id, first.store_id);
    assert_eq!(second.head, 5);
    daemon.changes(1).await;
    let read = driver.changes(5, 100, Duration::ZERO).await.unwrap();
    assert_eq!(events(&read), [6]);

    // Restarted again, the new store is behind the feed: not "in the future", a resync.
    let daemon = daemon.restart().await;
    assert_eq!(daemon.changes(1).await, 1);
    let answer = driver.changes(6, 100, Duration::ZERO).await.unwrap();
    assert!(
        matches!(
            answer,
            Changes::Resync {
                requested: 7,
                head: 1,
                ..
            }
        ),
        "{answer:?}"
    );
    let _ = daemon.stop.send(());
    daemon.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drivers_calls_unreachable_daemons_and_failovers_are_counted() {
    let daemon = Serving::start("127.0.0.1:0".parse().unwrap()).await;
    // Nothing listens on port 1: the first call finds it so, and goes on through the daemon.
    let driver = DaemonDriver::new(
        &format!("127.0.0.1:1,{}", daemon.addr),
        Duration::from_secs(10),
    )
    .unwrap();
    driver.head().await.expect("the second daemon answers");
    driver.head().await.expect("and goes on answering");
    let stats = driver.stats();
    assert_eq!((stats.calls, stats.errors, stats.restarts), (2, 1, 1));
}
