//! The policy an [`AuthLayer`](crate::AuthLayer) enforces, swappable while serving.

use std::fmt;
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};
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
pub struct PolicyHandle(Arc<ArcSwap<Engine>>);

impl PolicyHandle {
    /// A handle holding `engine`.
    pub fn new(engine: Engine) -> Self {
        Self(Arc::new(ArcSwap::from_pointee(engine)))
    }

    /// The policy in force now (cheap; hold it only for one decision).
    pub fn load(&self) -> Guard<Arc<Engine>> {
        self.0.load()
    }

    /// Replaces the policy; requests that start after this see the new one.
    pub fn store(&self, engine: Engine) {
        self.0.store(Arc::new(engine));
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
