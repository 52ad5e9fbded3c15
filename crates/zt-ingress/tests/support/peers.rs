//! Real peers for interop tests: a certified OpenID Provider (`oidc-provider` from npm,
//! driven by `tests/interop/oidc-provider/server.mjs`) and Debian's headless Chromium
//! (driven by `tests/interop/browser/login.mjs` through playwright-core).
//!
//! Whether a missing peer fails or skips a test is [`InteropMode::from_env`]'s call:
//! `ZT_INTEROP=require` (as `.ci/run` sets) makes it a failure; unset, the test says why
//! it skipped and returns.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the OpenID Provider may take to print `READY`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The workspace root (two levels above this crate's manifest).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `target/interop-artifacts/<test>/` under the workspace root, created empty.
pub fn artifact_dir(test: &str) -> PathBuf {
    let dir = workspace_root().join("target/interop-artifacts").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the artifact directory");
    dir.canonicalize().unwrap_or(dir)
}

/// A peer an interop test needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// `node` and `tests/interop/oidc-provider/node_modules`.
    OidcProvider,
    /// `node`, `tests/interop/browser/node_modules` and Chromium.
    Browser,
}

/// Whether missing peers fail (`ZT_INTEROP=require`) or skip interop tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InteropMode {
    /// A missing peer is a test failure.
    Require,
    /// A missing peer skips the test, saying so.
    SkipIfMissing,
}

impl InteropMode {
    /// Reads `ZT_INTEROP`: `require` (or `1`) requires the peers; anything else skips.
    pub fn from_env() -> Self {
        match std::env::var("ZT_INTEROP").as_deref().map(str::trim) {
            Ok("require" | "1") => Self::Require,
            _ => Self::SkipIfMissing,
        }
    }

    /// `true` when every peer is there. Otherwise panics (require) or prints a skip
    /// notice and returns `false`.
    pub fn peers_ready(self, test: &str, peers: &[Peer]) -> bool {
        let missing: Vec<String> = peers.iter().filter_map(|p| missing(*p)).collect();
        if missing.is_empty() {
            return true;
        }
        let why = missing.join("; ");
        match self {
            Self::Require => panic!(
                "{test}: interop peers missing with ZT_INTEROP=require: {why}. \
                 `bash .ci/run` installs them (apt-get install chromium; npm ci in tests/interop/*)"
            ),
            Self::SkipIfMissing => {
                eprintln!("{test}: skipped: {why}; run `bash .ci/run` or set ZT_INTEROP=require");
                false
            }
        }
    }
}

/// Why `peer` cannot run here, if it cannot.
fn missing(peer: Peer) -> Option<String> {
    let interop = workspace_root().join("tests/interop");
    let node = match Command::new(node()).arg("--version").output() {
        Ok(out) if out.status.success() => None,
        _ => Some(format!("`{}` is not on PATH", node())),
    };
    let modules = |dir: &str, package: &str| {
        let path = interop.join(dir).join("node_modules").join(package);
        (!path.is_dir()).then(|| {
            format!(
                "{} is not installed (npm ci in tests/interop/{dir})",
                package
            )
        })
    };
    let problems: Vec<String> = match peer {
        Peer::OidcProvider => [node, modules("oidc-provider", "oidc-provider")]
            .into_iter()
            .flatten()
            .collect(),
        Peer::Browser => {
            let chromium = chromium_path();
            let chromium = (!chromium.is_file()).then(|| {
                format!(
                    "no Chromium at {} (apt-get install chromium)",
                    chromium.display()
                )
            });
            [node, modules("browser", "playwright-core"), chromium]
                .into_iter()
                .flatten()
                .collect()
        }
    };
    (!problems.is_empty()).then(|| problems.join(", "))
}

fn node() -> String {
    std::env::var("ZT_INTEROP_NODE").unwrap_or_else(|_| "node".to_owned())
}

/// Chromium: `$CHROMIUM` or `/usr/bin/chromium`.
pub fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

// ---------------------------------------------------------------- the OpenID Provider

/// The client and resource server the provider is set up with.
#[derive(Clone, Debug)]
pub struct OidcProviderOptions {
    /// The confidential client's id.
    pub client_id: String,
    /// Its secret (sent with HTTP Basic, as zt's login does).
    pub client_secret: String,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Registered post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// The `aud` of the JWT access tokens.
    pub audience: String,
    /// Where the provider's log goes (stderr when `None`).
    pub log: Option<PathBuf>,
}

/// A running `oidc-provider`; killed on drop.
#[derive(Debug)]
pub struct OidcProvider {
    child: Child,
    stdin: Option<ChildStdin>,
    issuer: String,
}

impl OidcProvider {
    /// Spawns `node tests/interop/oidc-provider/server.mjs` on a free loopback port and
    /// waits for its `READY <issuer>` line.
    pub fn start(opts: &OidcProviderOptions) -> Result<Self, String> {
        let dir = workspace_root().join("tests/interop/oidc-provider");
        let mut cmd = Command::new(node());
        cmd.current_dir(&dir)
            .arg("server.mjs")
            .args(["--port", "0"])
            .args(["--client-id", &opts.client_id])
            .args(["--client-secret", &opts.client_secret])
            .args(["--audience", &opts.audience]);
        for uri in &opts.redirect_uris {
            cmd.args(["--redirect-uri", uri]);
        }
        for uri in &opts.post_logout_redirect_uris {
            cmd.args(["--post-logout-redirect-uri", uri]);
        }
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        match &opts.log {
            Some(path) => {
                let file = std::fs::File::create(path)
                    .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                cmd.stderr(file);
            }
            None => {
                cmd.stderr(Stdio::inherit());
            }
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start node server.mjs in {}: {e}", dir.display()))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next();
            let _ = tx.send(first);
            // Keep draining so the provider never blocks on a full pipe.
            for _ in lines {}
        });
        let mut provider = Self {
            child,
            stdin,
            issuer: String::new(),
        };
        let line = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(Some(Ok(line))) => line,
            Ok(_) => {
                let status = provider.child.wait().ok();
                return Err(format!(
                    "oidc-provider exited before READY ({status:?}); see {}",
                    opts.log
                        .as_ref()
                        .map_or("stderr".into(), |p| p.display().to_string())
                ));
            }
            Err(_) => return Err(format!("oidc-provider not READY within {READY_TIMEOUT:?}")),
        };
        let issuer = line
            .strip_prefix("READY ")
            .ok_or_else(|| format!("unexpected first line from oidc-provider: {line:?}"))?;
        provider.issuer = issuer.trim().to_owned();
        Ok(provider)
    }

    /// The issuer URL (`http://127.0.0.1:PORT`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        // Closing stdin asks it to exit; the kill makes sure.
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.flush();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- the browser

/// What `login.mjs` is told (each becomes `--name value`).
#[derive(Clone, Debug, Default)]
pub struct BrowserArgs {
    /// `--flag value` pairs, e.g. `("protected-url", "http://...")`.
    pub args: Vec<(String, String)>,
    /// Screenshots and `browser.log` go here.
    pub artifact_dir: PathBuf,
    /// Kill the browser run after this long.
    pub timeout: Duration,
}

impl BrowserArgs {
    /// Adds `--name value`.
    pub fn arg(mut self, name: &str, value: impl Into<String>) -> Self {
        self.args.push((name.to_owned(), value.into()));
        self
    }
}

/// Runs `node tests/interop/browser/login.mjs` and returns its JSON result line; `Err`
/// with that line (or what went wrong) when the run failed.
pub fn run_browser(args: &BrowserArgs) -> Result<serde_json::Value, String> {
    let dir = workspace_root().join("tests/interop/browser");
    let log_path = args.artifact_dir.join("browser.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let mut cmd = Command::new(node());
    cmd.current_dir(&dir)
        .arg("login.mjs")
        .arg("--artifact-dir")
        .arg(&args.artifact_dir)
        .arg("--chromium")
        .arg(chromium_path());
    for (name, value) in &args.args {
        cmd.arg(format!("--{name}")).arg(value);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start node login.mjs in {}: {e}", dir.display()))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let deadline = Instant::now() + args.timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "login.mjs still running after {:?}; killed (see {})",
                    args.timeout,
                    log_path.display()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("waiting for login.mjs: {e}")),
        }
    };
    let out = reader.join().unwrap_or_default();
    let line = out.lines().rev().find(|l| l.trim_start().starts_with('{'));
    let value: Option<serde_json::Value> = line.and_then(|l| serde_json::from_str(l).ok());
    match value {
        Some(v) if status.success() && v["ok"] == true => Ok(v),
        Some(v) => {
            let field = |name: &str| v[name].as_str().unwrap_or("-").to_owned();
            let done: Vec<&str> = v["steps"]
                .as_array()
                .map(|steps| steps.iter().filter_map(|s| s["step"].as_str()).collect())
                .unwrap_or_default();
            Err(format!(
                "browser failed at step `{}` ({status}): {}\n  url: {}\n  screenshot: {}\n  page text: {}\n  steps passed: {}\n  log: {}",
                field("step"),
                field("error"),
                field("url"),
                args.artifact_dir.join(field("screenshot")).display(),
                field("page_text").replace('\n', " | "),
                done.join(", "),
                log_path.display(),
            ))
        }
        None => Err(format!(
            "login.mjs printed no JSON result ({status}); stdout: {out}\n(log: {})",
            log_path.display()
        )),
    }
}
