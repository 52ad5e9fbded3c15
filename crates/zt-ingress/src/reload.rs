//! Reloading routes and policies: on a change to the configuration file or a policy file
//! it names (including Kubernetes ConfigMap updates, which swap a `..data` link), and on
//! `SIGHUP`. A configuration that fails to load or build is refused with a log line and
//! the routes in force stay.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use notify::{RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};

use crate::StartError;
use crate::config::{Config, RouteConfig};
use crate::handler::{RouteFactory, Shared};

/// How long the reloader waits for a burst of file events to settle.
const RELOAD_SETTLE: std::time::Duration = std::time::Duration::from_millis(200);

/// Applies new configurations, one at a time.
pub(crate) struct Reloader {
    path: Option<PathBuf>,
    factory: RouteFactory,
    shared: Arc<Shared>,
    lock: Mutex<()>,
}

impl Reloader {
    pub(crate) fn new(path: Option<PathBuf>, factory: RouteFactory, shared: Arc<Shared>) -> Self {
        Self {
            path,
            factory,
            shared,
            lock: Mutex::new(()),
        }
    }

    pub(crate) fn has_file(&self) -> bool {
        self.path.is_some()
    }

    /// Loads the file again and swaps in its routes; logs and counts the outcome.
    pub(crate) fn reload(&self) -> Result<(), StartError> {
        self.reload_watched().map(drop)
    }

    /// As [`reload`](Self::reload), returning the files to watch from now on.
    fn reload_watched(&self) -> Result<Vec<PathBuf>, StartError> {
        let Some(path) = &self.path else {
            return Err(StartError::NoConfigFile);
        };
        let _one_at_a_time = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let result = Config::load(path)
            .map_err(StartError::from)
            .and_then(|config| {
                let watched = watched_files(Some(path), &config.routes);
                let table = self.factory.build(config.routes)?;
                Ok((table, watched))
            });
        self.shared.metrics.reload(result.is_ok());
        match result {
            Ok((table, watched)) => {
                tracing::info!(routes = ?table.names(), "configuration reloaded");
                self.shared.routes.store(Arc::new(table));
                Ok(watched)
            }
            Err(error) => {
                tracing::error!(
                    "configuration reload refused; the previous routes stay in force:\n{error}"
                );
                Err(error)
            }
        }
    }
}

/// The configuration file and every policy file its routes name, as absolute paths.
pub(crate) fn watched_files(config: Option<&Path>, routes: &[RouteConfig]) -> Vec<PathBuf> {
    config
        .into_iter()
        .chain(
            routes
                .iter()
                .filter_map(|route| route.policy_file.as_deref()),
        )
        .filter_map(|path| std::path::absolute(path).ok())
        .collect()
}

/// Whether an event on `path` concerns one of `files` (or a ConfigMap swap beside them).
fn relevant(path: &Path, files: &HashSet<PathBuf>) -> bool {
    if files.contains(path) {
        return true;
    }
    path.file_name().is_some_and(|name| name == "..data")
        && path
            .parent()
            .is_some_and(|dir| files.iter().any(|file| file.parent() == Some(dir)))
}

/// Watches the files' directories and listens for `SIGHUP` until `shutdown`.
pub(crate) async fn watch(
    reloader: Arc<Reloader>,
    files: Vec<PathBuf>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (events, mut changed) = mpsc::unbounded_channel::<()>();
    let watched: Arc<Mutex<HashSet<PathBuf>>> =
        Arc::new(Mutex::new(files.iter().cloned().collect()));
    let filter = Arc::clone(&watched);
    let mut watcher =
        match notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            let files = filter.lock().unwrap_or_else(PoisonError::into_inner);
            if event.paths.iter().any(|path| relevant(path, &files)) {
                let _ = events.send(());
            }
        }) {
            Ok(watcher) => Some(watcher),
            Err(error) => {
                tracing::warn!(%error, "cannot watch configuration files; reload with SIGHUP");
                None
            }
        };
    let mut directories = HashSet::new();
    watch_directories(watcher.as_mut(), &files, &mut directories);
    let mut hangup = hangup_signal();
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            Some(()) = changed.recv() => {
                tracing::info!("configuration files changed; reloading");
            }
            Some(()) = recv_hangup(&mut hangup) => {
                tracing::info!("SIGHUP: reloading the configuration");
            }
        }
        tokio::time::sleep(RELOAD_SETTLE).await;
        while changed.try_recv().is_ok() {}
        let task = Arc::clone(&reloader);
        if let Ok(Ok(files)) = tokio::task::spawn_blocking(move || task.reload_watched()).await {
            watch_directories(watcher.as_mut(), &files, &mut directories);
            *watched.lock().unwrap_or_else(PoisonError::into_inner) = files.into_iter().collect();
        }
    }
}

fn watch_directories(
    watcher: Option<&mut notify::RecommendedWatcher>,
    files: &[PathBuf],
    directories: &mut HashSet<PathBuf>,
) {
    let Some(watcher) = watcher else { return };
    for dir in files.iter().filter_map(|file| file.parent()) {
        if directories.contains(dir) {
            continue;
        }
        match watcher.watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                directories.insert(dir.to_owned());
            }
            Err(error) => tracing::warn!(dir = %dir.display(), %error, "cannot watch directory"),
        }
    }
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<()>;

#[cfg(unix)]
fn hangup_signal() -> Hangup {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

#[cfg(not(unix))]
fn hangup_signal() -> Hangup {
    None
}

#[cfg(unix)]
async fn recv_hangup(signal: &mut Hangup) -> Option<()> {
    match signal {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn recv_hangup(_: &mut Hangup) -> Option<()> {
    std::future::pending().await
}
