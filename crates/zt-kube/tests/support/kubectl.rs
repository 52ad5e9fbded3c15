//! The real `kubectl` (Debian's `kubectl` package, v1.32) as a test peer: finds it,
//! writes its kubeconfig into a temp directory and runs it with a timeout.
//!
//! Whether a missing kubectl fails or skips a test is [`kubectl_or_skip`]'s call:
//! `ZT_INTEROP=require` (or `1`) makes it a failure; otherwise the test prints
//! "skipped: kubectl not found" and returns.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

/// How long one kubectl run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `zt-kube-it-<name>-<pid>-<n>`.
    pub fn new(name: &str) -> std::io::Result<Self> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "zt-kube-it-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The kubectl binary: `$KUBECTL`, or `kubectl` on `PATH`, if `version --client` runs.
pub fn find_kubectl() -> Option<PathBuf> {
    let path = std::env::var_os("KUBECTL").map_or_else(|| PathBuf::from("kubectl"), PathBuf::from);
    let ok = std::process::Command::new(&path)
        .args(["version", "--client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    ok.then_some(path)
}

/// The kubectl binary, or `None` after printing why the test skips. Panics when
/// `ZT_INTEROP=require` and kubectl is missing.
pub fn kubectl_or_skip(test: &str) -> Option<PathBuf> {
    let found = find_kubectl();
    if found.is_none() {
        let required = matches!(
            std::env::var("ZT_INTEROP").as_deref().map(str::trim),
            Ok("require" | "1")
        );
        assert!(
            !required,
            "{test}: kubectl not found with ZT_INTEROP=require (apt-get install kubectl)"
        );
        eprintln!("{test}: skipped: kubectl not found (apt-get install kubectl, or set KUBECTL)");
    }
    found
}

/// kubectl bound to one kubeconfig, with its own discovery cache and `HOME`.
pub struct Kubectl {
    /// The binary.
    binary: PathBuf,
    /// Holds `kubeconfig`, `cache/` and serves as `HOME`.
    dir: TempDir,
}

impl Kubectl {
    /// Writes `kubeconfig` into a fresh temp directory.
    pub fn new(binary: PathBuf, name: &str, kubeconfig: &str) -> std::io::Result<Self> {
        let dir = TempDir::new(name)?;
        std::fs::write(dir.path().join("kubeconfig"), kubeconfig)?;
        Ok(Self { binary, dir })
    }

    /// The kubeconfig file.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// A command for `kubectl <args>` with this kubeconfig; output piped, killed on drop.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .env("KUBECONFIG", self.kubeconfig())
            .env("HOME", self.dir.path())
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs `kubectl <args>`, feeding `stdin` if given, and waits (at most a minute).
    pub async fn run(&self, args: &[&str], stdin: Option<&str>) -> std::io::Result<Output> {
        let mut command = self.command(args);
        if stdin.is_some() {
            command.stdin(Stdio::piped());
        }
        let mut child = command.spawn()?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input.as_bytes()).await?;
            // Dropping the pipe closes kubectl's stdin.
        }
        tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| std::io::Error::other(format!("kubectl {args:?} timed out")))?
    }
}

/// kubectl's output as text, for assertions and failure messages.
pub fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
