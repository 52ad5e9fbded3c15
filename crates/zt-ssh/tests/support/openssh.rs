//! Debian's OpenSSH (`openssh-client`, `openssh-server`) as a test peer: finds the
//! binaries, runs `ssh-keygen`, starts an unprivileged-config `sshd` on a free loopback
//! port with its own host key, and runs the real `ssh` client against it.
//!
//! Whether missing binaries fail or skip a test is [`tool_or_skip`]'s call:
//! `ZT_INTEROP=require` (or `1`) makes it a failure; otherwise the test prints
//! "skipped: ... not found" and returns.

use std::io::{BufRead as _, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long sshd may take to listen, and a log line to show up.
const WAIT: Duration = Duration::from_secs(15);

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `zt-ssh-it-<name>-<pid>-<n>`.
    pub fn new(name: &str) -> std::io::Result<Self> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "zt-ssh-it-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }

    /// The directory (absolute, as sshd requires).
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The OpenSSH programs the tests use.
#[derive(Clone, Copy, Debug)]
pub enum Tool {
    /// `ssh-keygen` (openssh-client).
    Keygen,
    /// `ssh` (openssh-client).
    Ssh,
    /// `sshd` (openssh-server).
    Sshd,
}

impl Tool {
    /// `$SSH_KEYGEN`/`$SSH`/`$SSHD`, or the Debian path.
    fn path(self) -> PathBuf {
        let (var, default) = match self {
            Self::Keygen => ("SSH_KEYGEN", "/usr/bin/ssh-keygen"),
            Self::Ssh => ("SSH", "/usr/bin/ssh"),
            Self::Sshd => ("SSHD", "/usr/sbin/sshd"),
        };
        std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Keygen => "ssh-keygen",
            Self::Ssh => "ssh",
            Self::Sshd => "sshd",
        }
    }

    fn package(self) -> &'static str {
        match self {
            Self::Keygen | Self::Ssh => "openssh-client",
            Self::Sshd => "openssh-server",
        }
    }
}

/// The tools' paths, or `None` after printing why the test skips. Panics when
/// `ZT_INTEROP=require` and one is missing.
pub fn tool_or_skip<const N: usize>(test: &str, tools: [Tool; N]) -> Option<[PathBuf; N]> {
    let required = matches!(
        std::env::var("ZT_INTEROP").as_deref().map(str::trim),
        Ok("require" | "1")
    );
    for tool in tools {
        if !tool.path().is_file() {
            let (name, package) = (tool.name(), tool.package());
            assert!(
                !required,
                "{test}: {name} not found with ZT_INTEROP=require (apt-get install {package})"
            );
            eprintln!("{test}: skipped: {name} not found (apt-get install {package})");
            return None;
        }
    }
    Some(tools.map(Tool::path))
}

/// Runs a program to completion with stdin closed.
pub fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()))
}

/// A program's output as text, for assertions and failure messages.
pub fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The current user's name, the login the tests certify.
pub fn current_user() -> String {
    let output = run(Path::new("id"), &["-un"]);
    assert!(output.status.success(), "id -un: {}", describe(&output));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// A running `sshd -D -e` on 127.0.0.1; killed on drop.
pub struct Sshd {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
    config: PathBuf,
}

impl Sshd {
    /// Starts sshd from `dir` (absolute): a fresh Ed25519 host key from ssh-keygen, and a
    /// config that trusts only `trusted_user_ca_keys` and nothing else (no passwords, no
    /// authorized_keys, no PAM).
    pub fn start(sshd: &Path, keygen: &Path, dir: &Path, trusted_user_ca_keys: &Path) -> Self {
        let host_key = dir.join("ssh_host_ed25519_key");
        let output = run(
            keygen,
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "zt-test-host",
                "-f",
                path_str(&host_key),
            ],
        );
        assert!(
            output.status.success(),
            "ssh-keygen host key: {}",
            describe(&output)
        );
        ensure_privsep_dir();

        // sshd needs a fixed port; take a free one and hand it over (a small race only).
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .unwrap()
            .port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "ListenAddress 127.0.0.1:{port}\n\
                 HostKey {host_key}\n\
                 PidFile none\n\
                 UsePAM no\n\
                 StrictModes no\n\
                 AuthorizedKeysFile none\n\
                 TrustedUserCAKeys {ca}\n\
                 PubkeyAuthentication yes\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\n\
                 UseDNS no\n\
                 LogLevel VERBOSE\n",
                host_key = host_key.display(),
                ca = trusted_user_ca_keys.display(),
            ),
        )
        .unwrap();

        let mut child = Command::new(sshd)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", sshd.display()));
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut sshd = Self {
            child,
            port,
            log,
            config,
        };
        sshd.wait_for_log(&format!("Server listening on 127.0.0.1 port {port}"));
        sshd
    }

    /// The port sshd listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Everything sshd has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until sshd logged a line containing `needle`, and returns that line.
    pub fn wait_for_log(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(line) = self.log().lines().find(|line| line.contains(needle)) {
                return line.to_owned();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "sshd exited ({status}) before logging {needle:?}:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not log {needle:?} within {WAIT:?} (config {}):\n{}",
                self.config.display(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs the real ssh client as `login` with `key` and `certificate`, with no config
    /// file, agent or other identity, and runs `command` remotely.
    pub fn ssh(
        &self,
        ssh: &Path,
        login: &str,
        key: &Path,
        certificate: &Path,
        command: &str,
    ) -> Output {
        let port = self.port.to_string();
        let certificate_file = format!("CertificateFile={}", certificate.display());
        run(
            ssh,
            &[
                "-F",
                "/dev/null",
                "-i",
                path_str(key),
                "-o",
                &certificate_file,
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "IdentityAgent=none",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=10",
                "-o",
                "LogLevel=ERROR",
                "-l",
                login,
                "-p",
                &port,
                "127.0.0.1",
                "--",
                command,
            ],
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// sshd refuses to start as root without its privilege separation directory.
fn ensure_privsep_dir() {
    use std::os::unix::fs::DirBuilderExt as _;
    let dir = Path::new("/run/sshd");
    if !dir.exists() {
        // Not root: sshd does not chroot and the directory is not needed.
        let _ = std::fs::DirBuilder::new().mode(0o755).create(dir);
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}
