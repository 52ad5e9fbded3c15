//! The policy an [`AuthLayer`](crate::AuthLayer) enforces, swappable while serving.

use std::fmt;
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};
use tokio::sync::watch;
use zt_core::policy::Engine;

/// A shared, hot-swappable compiled policy. Clones share one slot: [`store`](Self::store)
/// on any clone is seen by the next request of every layer holding it, without a restart
/// and without dropping connections.
///
/// ```
/// use zt_core::policy::Engine;
/// use zt_tower::PolicyHandle;
///
/// let handle = PolicyHandle::new(Engine::from_source("allow \"all\" when true\n")?);
/// let layer_copy = handle.clone();
/// handle.store(Engine::from_source("deny \"none\" when true\n")?);
/// assert_eq!(layer_copy.load().rule_count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PolicyHandle(Arc<Shared>);

struct Shared {
    engine: ArcSwap<Engine>,
    changes: watch::Sender<u64>,
}

impl PolicyHandle {
    /// A handle holding `engine`.
    pub fn new(engine: Engine) -> Self {
        Self(Arc::new(Shared {
            engine: ArcSwap::from_pointee(engine),
            changes: watch::Sender::new(0),
        }))
    }

    /// The policy in force now (cheap; hold it only for one decision).
    pub fn load(&self) -> Guard<Arc<Engine>> {
        self.0.engine.load()
    }

    /// Replaces the policy; requests that start after this see the new one, and live
    /// connections re-check against it (see [`subscribe`](Self::subscribe)).
    pub fn store(&self, engine: Engine) {
        self.0.engine.store(Arc::new(engine));
        self.0.changes.send_modify(|generation| *generation += 1);
    }

    /// A receiver marked changed on every [`store`](Self::store).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.changes.subscribe()
    }
}

impl From<Engine> for PolicyHandle {
    fn from(engine: Engine) -> Self {
        Self::new(engine)
    }
}

impl fmt::Debug for PolicyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyHandle")
            .field("rules", &self.load().rule_count())
            .finish()
    }
}
