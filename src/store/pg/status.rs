//! [`ClusterStatus`]: what a node knows of the cluster, shared between its
//! store (which updates it) and its HTTP layer (which reads it to forward
//! writes, wait for positions and answer `GET /v1/cluster`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::watch;

/// One node as the database last saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeView {
    /// Its advertised URL.
    pub url: String,
    /// The last position it reported having applied.
    pub position: u64,
    /// Seconds since it last reported.
    pub seen_secs_ago: f64,
}

/// The cluster as this node last read it from the database.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterView {
    /// The writer's advertised URL (none before the first writer).
    pub writer: Option<String>,
    /// The writer's epoch.
    pub epoch: i64,
    /// The last committed position.
    pub committed: u64,
    /// Every node that has registered, by URL.
    pub nodes: Vec<NodeView>,
}

/// A node's shared view of the cluster.
#[derive(Debug)]
pub struct ClusterStatus {
    advertise: String,
    writer: AtomicBool,
    position: watch::Sender<u64>,
    view: ArcSwap<ClusterView>,
    /// Bumped whenever the role or the view changes.
    changes: watch::Sender<u64>,
}

/// Where a write goes ([`ClusterStatus::route`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// This node is the writer.
    Here,
    /// Another node is: its URL.
    Forward(String),
}

impl ClusterStatus {
    /// A node advertised at `advertise`, following, at position 0.
    pub fn new(advertise: String) -> Arc<Self> {
        Arc::new(ClusterStatus {
            advertise,
            writer: AtomicBool::new(false),
            position: watch::channel(0).0,
            view: ArcSwap::from_pointee(ClusterView::default()),
            changes: watch::channel(0).0,
        })
    }

    /// This node's advertised URL.
    pub fn advertise(&self) -> &str {
        &self.advertise
    }

    /// Whether this node is the writer now.
    pub fn is_writer(&self) -> bool {
        self.writer.load(Ordering::Acquire)
    }

    /// The position this node has applied: every group up to it is visible
    /// to its readers.
    pub fn position(&self) -> u64 {
        *self.position.borrow()
    }

    /// Waits until this node has applied `position`, at most `limit`;
    /// returns whether it has.
    pub async fn wait_for(&self, position: u64, limit: std::time::Duration) -> bool {
        let mut rx = self.position.subscribe();
        let reached = async move { rx.wait_for(|p| *p >= position).await.is_ok() };
        matches!(tokio::time::timeout(limit, reached).await, Ok(true))
    }

    /// The writer's URL when another node is the writer.
    pub fn forward_to(&self) -> Option<String> {
        if self.is_writer() {
            return None;
        }
        self.view
            .load()
            .writer
            .clone()
            .filter(|w| *w != self.advertise)
    }

    /// Where a write goes, waiting (at most `limit`) while no node is
    /// known to be the writer, or only `avoid` (a writer found dead).
    pub async fn route(&self, avoid: Option<&str>, limit: std::time::Duration) -> Option<Route> {
        let mut rx = self.changes.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            rx.borrow_and_update();
            if self.is_writer() {
                return Some(Route::Here);
            }
            if let Some(w) = self.forward_to().filter(|w| Some(w.as_str()) != avoid) {
                return Some(Route::Forward(w));
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return None,
            }
        }
    }

    /// The cluster as last read.
    pub fn view(&self) -> Arc<ClusterView> {
        self.view.load_full()
    }

    pub(super) fn set_writer(&self, writer: bool) {
        if self.writer.swap(writer, Ordering::AcqRel) != writer {
            self.changes.send_modify(|n| *n += 1);
        }
    }

    pub(super) fn set_position(&self, position: u64) {
        self.position.send_if_modified(|p| {
            let grew = position > *p;
            if grew {
                *p = position;
            }
            grew
        });
    }

    pub(super) fn set_view(&self, view: ClusterView) {
        let writer_changed = self.view.load().writer != view.writer;
        self.view.store(Arc::new(view));
        if writer_changed {
            self.changes.send_modify(|n| *n += 1);
        }
    }
}
