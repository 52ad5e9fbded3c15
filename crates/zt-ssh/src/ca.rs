//! The user CA: signs short-lived OpenSSH user certificates.
//!
//! Upstream hosts trust the CA once (`TrustedUserCAKeys` in `sshd_config`, with the line
//! from [`UserCa::public_key_line`]); from then on the gateway lets a user in by signing a
//! certificate that names exactly one login and expires within minutes. There are no
//! `authorized_keys` to maintain and nothing to revoke: a certificate the gateway stops
//! issuing is gone a few minutes later.
//!
//! ```
//! use zt_ssh::ca::{CertRequest, UserCa, session_key};
//!
//! # fn main() -> Result<(), zt_ssh::ca::CaError> {
//! let ca = UserCa::generate("zt user CA")?; // or UserCa::load_or_generate(path)
//! // `ca.public_key_line()` goes into the hosts' TrustedUserCAKeys file.
//! assert!(ca.public_key_line().starts_with("ssh-ed25519 AAAA"));
//!
//! // A fresh key for the gateway's own upstream connection, certified for one login.
//! let key = session_key()?;
//! let request = CertRequest::new(key.public_key().clone(), "ubuntu", "alice@example.com", "s-42");
//! let issued = ca.sign(&request)?;
//! assert_eq!(issued.certificate.valid_principals(), ["ubuntu"]);
//! assert_eq!(issued.record.key_id, "alice@example.com s-42");
//! # Ok(()) }
//! ```
//!
//! # What a certificate says
//!
//! - type `user`, principal: exactly the requested login (never an empty list, which
//!   OpenSSH would read as "any user");
//! - key id `"<subject> <session id>"`, which sshd logs on every login, so the host's
//!   `auth.log` leads straight to the zt audit event;
//! - serial: 64 random bits. Random rather than a counter, so replicas and restarts need
//!   no shared state to keep serials distinct (two certificates share one with
//!   probability 2^-64);
//! - valid from one minute before now (clock skew between gateway and host) until now
//!   plus the CA's lifetime (default five minutes, at most one hour). The certificate only
//!   has to outlive the SSH handshake: an established session does not re-check it;
//! - extensions: `permit-pty` unless the request turns it off; port, agent and X11
//!   forwarding and `~/.ssh/rc` only when the request allows them;
//! - critical options: `force-command` and `source-address` when the request sets them.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use russh::keys::ssh_key::certificate::{Builder, CertType};
use russh::keys::ssh_key::{
    self, Algorithm, Certificate, Fingerprint, HashAlg, PrivateKey, PublicKey,
};

use crate::keyfile;
use crate::target::valid_login;

/// How long certificates are valid unless [`UserCa::with_lifetime`] says otherwise.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// The longest lifetime [`UserCa::with_lifetime`] accepts.
pub const MAX_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// How far `valid_after` lies before the signing time, for hosts whose clock is behind.
pub const BACKDATE: Duration = Duration::from_secs(60);
/// Longest subject or session id accepted into a key id.
const MAX_ID_PART: usize = 512;
/// Longest force-command accepted.
const MAX_COMMAND: usize = 4096;
/// Comment of the keys [`session_key`] makes.
const SESSION_KEY_COMMENT: &str = "zt session key";

/// Why the CA could not start or sign.
///
/// No variant carries private key material, and neither does any message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    /// A key file or its directory could not be created, opened, read or written.
    #[error("CA key file {}: {source}", path.display())]
    KeyFile {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The key file may be read or written by its group or by others.
    #[error(
        "CA key file {} has mode {mode:03o}: its group or others may access it; \
         run `chmod 600 {}`", path.display(), path.display()
    )]
    InsecurePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file is not an OpenSSH private key.
    #[error("CA key file {} is not an OpenSSH private key: {source}", path.display())]
    InvalidKeyFile {
        /// The file.
        path: PathBuf,
        /// Why it does not parse.
        source: ssh_key::Error,
    },
    /// The key file is passphrase-protected; the CA needs it unattended.
    #[error("CA key file {} is encrypted; zt needs an unencrypted key (protect it with file permissions)", path.display())]
    EncryptedKey {
        /// The file.
        path: PathBuf,
    },
    /// The CA key cannot sign (e.g. it is still encrypted).
    #[error("unusable CA key: {0}")]
    UnusableKey(&'static str),
    /// The CA key is not Ed25519.
    #[error("the CA key is {0}; zt signs with Ed25519 keys only")]
    UnsupportedAlgorithm(Algorithm),
    /// The requested certificate lifetime is zero or longer than [`MAX_LIFETIME`].
    #[error("certificate lifetime {0:?} is outside 1 s ..= {MAX_LIFETIME:?}")]
    InvalidLifetime(Duration),
    /// The request cannot become a certificate.
    #[error("invalid certificate request: {0}")]
    InvalidRequest(&'static str),
    /// The clock is before 1970 or too far in the future for a certificate.
    #[error("the system clock is out of range for a certificate")]
    Clock,
    /// The system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// ssh-key refused to encode or sign.
    #[error("SSH key operation failed: {0}")]
    Key(#[from] ssh_key::Error),
}

/// The time source the CA signs with: [`SystemTime::now`] unless tests inject another.
type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// What a user may do with a certificate, and for whom it is.
///
/// Build it with [`CertRequest::new`] and the permission methods; everything not
/// explicitly allowed stays off, except a pty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertRequest {
    public_key: PublicKey,
    login: String,
    subject: String,
    session_id: String,
    permit_pty: bool,
    permit_port_forwarding: bool,
    permit_agent_forwarding: bool,
    permit_x11_forwarding: bool,
    permit_user_rc: bool,
    force_command: Option<String>,
    source_addresses: Vec<String>,
}

impl CertRequest {
    /// A request to certify `public_key` (the client's key, or a [`session_key`] of the
    /// gateway's) for `login`, on behalf of `subject` in zt session `session_id`.
    pub fn new(
        public_key: PublicKey,
        login: impl Into<String>,
        subject: impl Into<String>,
        session_id: impl Into<String>,
    ) -> Self {
        Self {
            public_key,
            login: login.into(),
            subject: subject.into(),
            session_id: session_id.into(),
            permit_pty: true,
            permit_port_forwarding: false,
            permit_agent_forwarding: false,
            permit_x11_forwarding: false,
            permit_user_rc: false,
            force_command: None,
            source_addresses: Vec::new(),
        }
    }

    /// Whether the user may allocate a pty (default: yes).
    pub fn permit_pty(mut self, allow: bool) -> Self {
        self.permit_pty = allow;
        self
    }

    /// Whether the user may forward ports (default: no).
    pub fn permit_port_forwarding(mut self, allow: bool) -> Self {
        self.permit_port_forwarding = allow;
        self
    }

    /// Whether the user may forward their agent (default: no).
    pub fn permit_agent_forwarding(mut self, allow: bool) -> Self {
        self.permit_agent_forwarding = allow;
        self
    }

    /// Whether the user may forward X11 (default: no).
    pub fn permit_x11_forwarding(mut self, allow: bool) -> Self {
        self.permit_x11_forwarding = allow;
        self
    }

    /// Whether sshd runs the user's `~/.ssh/rc` (default: no).
    pub fn permit_user_rc(mut self, allow: bool) -> Self {
        self.permit_user_rc = allow;
        self
    }

    /// Runs `command` instead of whatever the user asks for (`force-command`).
    pub fn force_command(mut self, command: impl Into<String>) -> Self {
        self.force_command = Some(command.into());
        self
    }

    /// Accepts the certificate only from these addresses or CIDR blocks
    /// (`source-address`), e.g. the gateway's own egress addresses.
    pub fn source_addresses(
        mut self,
        addresses: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.source_addresses = addresses.into_iter().map(Into::into).collect();
        self
    }

    /// The key to certify.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The login the certificate will name.
    pub fn login(&self) -> &str {
        &self.login
    }

    /// Checks what the builder methods could not.
    fn validate(&self) -> Result<(), CaError> {
        if !valid_login(&self.login) {
            return Err(CaError::InvalidRequest(
                "the login is not a valid user name",
            ));
        }
        if !printable_id(&self.subject) {
            return Err(CaError::InvalidRequest(
                "the subject is empty, too long or has control characters",
            ));
        }
        if !printable_id(&self.session_id) || self.session_id.contains(' ') {
            return Err(CaError::InvalidRequest(
                "the session id is empty, too long, or has spaces or control characters",
            ));
        }
        if let Some(command) = &self.force_command
            && (command.is_empty() || command.len() > MAX_COMMAND || command.contains('\0'))
        {
            return Err(CaError::InvalidRequest(
                "the forced command is empty, too long or has a NUL byte",
            ));
        }
        if !self.source_addresses.iter().all(|a| valid_cidr(a)) {
            return Err(CaError::InvalidRequest(
                "a source address is not an IP address or CIDR block",
            ));
        }
        Ok(())
    }
}

/// What an audit event records about an issued certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertRecord {
    /// The certificate's serial (random).
    pub serial: u64,
    /// `"<subject> <session id>"`, as sshd logs it.
    pub key_id: String,
    /// The logins the certificate is valid for (exactly one).
    pub principals: Vec<String>,
    /// Start of validity, Unix seconds (inclusive).
    pub valid_after: u64,
    /// End of validity, Unix seconds (exclusive).
    pub valid_before: u64,
    /// SHA-256 fingerprint of the CA key, as sshd logs it (`SHA256:...`).
    pub ca_fingerprint: Fingerprint,
    /// SHA-256 fingerprint of the certified key.
    pub key_fingerprint: Fingerprint,
}

/// A signed certificate and its audit record.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Issued {
    /// The certificate, e.g. for `Certificate::to_openssh` or russh's
    /// `authenticate_openssh_cert`.
    pub certificate: Certificate,
    /// What the audit event needs.
    pub record: CertRecord,
}

/// An Ed25519 user certificate authority.
///
/// Cheap to share behind an `Arc`; [`UserCa::sign`] takes `&self`. `Debug` shows the CA's
/// fingerprint, never the key.
pub struct UserCa {
    key: PrivateKey,
    fingerprint: Fingerprint,
    public_key_line: String,
    lifetime: Duration,
    clock: Clock,
}

impl fmt::Debug for UserCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserCa")
            .field("fingerprint", &self.fingerprint.to_string())
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl UserCa {
    /// A CA with a new key that lives only in memory (tests, demos). `comment` ends the
    /// public key line.
    pub fn generate(comment: &str) -> Result<Self, CaError> {
        Self::from_private_key(keyfile::generate_ed25519(comment)?)
    }

    /// A CA with the Ed25519 key in the OpenSSH private key file at `path`, which only its
    /// owner may access (mode 0600 or stricter).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CaError> {
        Self::from_private_key(keyfile::read_private_key(path.as_ref())?)
    }

    /// Loads the key at `path`, or on first start generates one and writes it there (mode
    /// 0600, parent directories 0700 if they are missing). If another process creates the
    /// file at the same moment, its key wins and is loaded.
    pub fn load_or_generate(path: impl AsRef<Path>) -> Result<Self, CaError> {
        let path = path.as_ref();
        match keyfile::read_private_key(path) {
            Err(CaError::KeyFile { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            loaded => return Self::from_private_key(loaded?),
        }
        let key = keyfile::generate_ed25519("zt user CA")?;
        match keyfile::write_private_key(path, &key) {
            Ok(()) => Self::from_private_key(key),
            Err(CaError::KeyFile { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                Self::load(path)
            }
            Err(error) => Err(error),
        }
    }

    /// A CA with this key, which must be an unencrypted Ed25519 key.
    pub fn from_private_key(key: PrivateKey) -> Result<Self, CaError> {
        if key.algorithm() != Algorithm::Ed25519 {
            return Err(CaError::UnsupportedAlgorithm(key.algorithm()));
        }
        if key.is_encrypted() {
            return Err(CaError::UnusableKey("it is encrypted"));
        }
        let public_key_line = key.public_key().to_openssh()?;
        Ok(Self {
            fingerprint: key.fingerprint(HashAlg::Sha256),
            public_key_line,
            key,
            lifetime: DEFAULT_LIFETIME,
            clock: Arc::new(SystemTime::now),
        })
    }

    /// Sets how long certificates stay valid after they are signed (1 s to
    /// [`MAX_LIFETIME`]; default [`DEFAULT_LIFETIME`]).
    pub fn with_lifetime(mut self, lifetime: Duration) -> Result<Self, CaError> {
        if lifetime < Duration::from_secs(1) || lifetime > MAX_LIFETIME {
            return Err(CaError::InvalidLifetime(lifetime));
        }
        self.lifetime = lifetime;
        Ok(self)
    }

    /// Replaces the clock [`UserCa::sign`] reads (tests: certificates from the past).
    pub fn with_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How long certificates stay valid after they are signed.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// The CA's public key.
    pub fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    /// The CA's SHA-256 fingerprint (`SHA256:...`).
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The `ssh-ed25519 AAAA... comment` line for the hosts' `TrustedUserCAKeys` file.
    pub fn public_key_line(&self) -> &str {
        &self.public_key_line
    }

    /// Signs a user certificate for the request's key, valid from a minute ago until
    /// [`UserCa::lifetime`] from now.
    pub fn sign(&self, request: &CertRequest) -> Result<Issued, CaError> {
        self.sign_at(request, (self.clock)())
    }

    /// [`UserCa::sign`] as if the time were `now`.
    pub fn sign_at(&self, request: &CertRequest, now: SystemTime) -> Result<Issued, CaError> {
        request.validate()?;
        let now = now.duration_since(UNIX_EPOCH).map_err(|_| CaError::Clock)?;
        let valid_after = now.saturating_sub(BACKDATE).as_secs();
        let valid_before = now
            .checked_add(self.lifetime)
            .map(|t| t.as_secs())
            .filter(|&t| t < i64::MAX as u64)
            .ok_or(CaError::Clock)?;
        let serial = u64::from_be_bytes(keyfile::random_bytes()?);
        let nonce: [u8; Builder::RECOMMENDED_NONCE_SIZE] = keyfile::random_bytes()?;
        let key_id = format!("{} {}", request.subject, request.session_id);

        let mut builder = Builder::new(
            nonce,
            request.public_key.key_data().clone(),
            valid_after,
            valid_before,
        )?;
        builder
            .cert_type(CertType::User)?
            .serial(serial)?
            .key_id(key_id.clone())?
            .valid_principal(request.login.clone())?;
        for (name, allowed) in [
            ("permit-X11-forwarding", request.permit_x11_forwarding),
            ("permit-agent-forwarding", request.permit_agent_forwarding),
            ("permit-port-forwarding", request.permit_port_forwarding),
            ("permit-pty", request.permit_pty),
            ("permit-user-rc", request.permit_user_rc),
        ] {
            if allowed {
                builder.extension(name, "")?;
            }
        }
        if let Some(command) = &request.force_command {
            builder.critical_option("force-command", command.clone())?;
        }
        if !request.source_addresses.is_empty() {
            builder.critical_option("source-address", request.source_addresses.join(","))?;
        }
        let certificate = builder.sign(&self.key)?;

        let record = CertRecord {
            serial,
            key_id,
            principals: certificate.valid_principals().to_vec(),
            valid_after,
            valid_before,
            ca_fingerprint: self.fingerprint,
            key_fingerprint: request.public_key.fingerprint(HashAlg::Sha256),
        };
        Ok(Issued {
            certificate,
            record,
        })
    }
}

/// A fresh Ed25519 key pair for one upstream connection of the gateway: the gateway
/// signs a certificate for it and never lets the key leave memory.
pub fn session_key() -> Result<PrivateKey, CaError> {
    keyfile::generate_ed25519(SESSION_KEY_COMMENT)
}

/// Non-empty, bounded text without control characters (it ends up in sshd's log).
fn printable_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= MAX_ID_PART && !text.chars().any(char::is_control)
}

/// An IP address, or an address with a prefix length that fits it (`10.0.0.0/8`).
fn valid_cidr(text: &str) -> bool {
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let Ok(address) = address.parse::<IpAddr>() else {
        return false;
    };
    let max = if address.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|p| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u8>().is_ok_and(|p| p <= max)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::os::unix::fs::PermissionsExt as _;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "zt-ssh-ca-{name}-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn request() -> CertRequest {
        let key = session_key().unwrap();
        CertRequest::new(
            key.public_key().clone(),
            "ubuntu",
            "alice@example.com",
            "s-1",
        )
    }

    fn extensions(issued: &Issued) -> Vec<&str> {
        issued
            .certificate
            .extensions()
            .keys()
            .map(String::as_str)
            .collect()
    }

    const T: u64 = 1_750_000_000;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn validity_starts_a_minute_back_and_lasts_the_lifetime() {
        let ca = UserCa::generate("test CA").unwrap();
        let issued = ca.sign_at(&request(), at(T)).unwrap();
        let cert = &issued.certificate;
        assert_eq!((cert.valid_after(), cert.valid_before()), (T - 60, T + 300));
        assert_eq!(
            (issued.record.valid_after, issued.record.valid_before),
            (T - 60, T + 300)
        );

        let ca = ca.with_lifetime(Duration::from_secs(120)).unwrap();
        let cert = ca.sign_at(&request(), at(T)).unwrap().certificate;
        assert_eq!((cert.valid_after(), cert.valid_before()), (T - 60, T + 120));
        // Valid for the CA now, not once expired, not for another CA.
        cert.validate_at(T, [ca.fingerprint()]).unwrap();
        cert.validate_at(T - 60, [ca.fingerprint()]).unwrap();
        assert!(cert.validate_at(T + 120, [ca.fingerprint()]).is_err());
        let other = UserCa::generate("other").unwrap();
        assert!(cert.validate_at(T, [other.fingerprint()]).is_err());
    }

    #[test]
    fn the_clock_is_injectable() {
        let ca = UserCa::generate("test CA").unwrap().with_clock(|| at(T));
        let cert = ca.sign(&request()).unwrap().certificate;
        assert_eq!(cert.valid_before(), T + 300);
        // The real clock by default.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let cert = UserCa::generate("c")
            .unwrap()
            .sign(&request())
            .unwrap()
            .certificate;
        assert!(
            cert.valid_after().abs_diff(now - 60) <= 2,
            "{}",
            cert.valid_after()
        );
    }

    #[test]
    fn lifetime_is_bounded() {
        for bad in [
            Duration::ZERO,
            Duration::from_millis(999),
            MAX_LIFETIME + Duration::from_secs(1),
        ] {
            let error = UserCa::generate("c")
                .unwrap()
                .with_lifetime(bad)
                .unwrap_err();
            assert!(matches!(error, CaError::InvalidLifetime(_)), "{error}");
        }
        assert_eq!(
            UserCa::generate("c")
                .unwrap()
                .with_lifetime(MAX_LIFETIME)
                .unwrap()
                .lifetime(),
            MAX_LIFETIME
        );
    }

    #[test]
    fn names_exactly_the_login_and_links_subject_and_session() {
        let ca = UserCa::generate("test CA").unwrap();
        let request = request();
        let issued = ca.sign(&request).unwrap();
        let cert = &issued.certificate;
        assert_eq!(cert.cert_type(), CertType::User);
        assert_eq!(cert.valid_principals(), ["ubuntu"]);
        assert_eq!(cert.key_id(), "alice@example.com s-1");
        assert_eq!(cert.public_key(), request.public_key().key_data());
        assert_eq!(cert.signature_key(), ca.public_key().key_data());
        assert_eq!(cert.algorithm(), Algorithm::Ed25519);

        let record = &issued.record;
        assert_eq!(record.key_id, cert.key_id());
        assert_eq!(record.serial, cert.serial());
        assert_eq!(record.principals, ["ubuntu"]);
        assert_eq!(&record.ca_fingerprint, ca.fingerprint());
        assert_eq!(
            record.key_fingerprint,
            request.public_key().fingerprint(HashAlg::Sha256)
        );
        assert!(record.ca_fingerprint.to_string().starts_with("SHA256:"));
    }

    #[test]
    fn serials_are_unique() {
        let ca = UserCa::generate("test CA").unwrap();
        let request = request();
        let serials: HashSet<u64> = (0..500)
            .map(|_| ca.sign(&request).unwrap().record.serial)
            .collect();
        assert_eq!(serials.len(), 500);
    }

    #[test]
    fn extensions_follow_the_request() {
        let ca = UserCa::generate("test CA").unwrap();
        let issued = ca.sign(&request()).unwrap();
        assert_eq!(extensions(&issued), ["permit-pty"]);
        assert!(issued.certificate.critical_options().is_empty());

        let issued = ca.sign(&request().permit_pty(false)).unwrap();
        assert!(extensions(&issued).is_empty());

        let all = request()
            .permit_port_forwarding(true)
            .permit_agent_forwarding(true)
            .permit_x11_forwarding(true)
            .permit_user_rc(true);
        assert_eq!(
            extensions(&ca.sign(&all).unwrap()),
            [
                "permit-X11-forwarding",
                "permit-agent-forwarding",
                "permit-port-forwarding",
                "permit-pty",
                "permit-user-rc"
            ]
        );
        assert_eq!(
            extensions(&ca.sign(&request().permit_agent_forwarding(true)).unwrap()),
            ["permit-agent-forwarding", "permit-pty"]
        );
    }

    #[test]
    fn critical_options_follow_the_request() {
        let ca = UserCa::generate("test CA").unwrap();
        let request = request()
            .force_command("/usr/bin/uptime")
            .source_addresses(["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]);
        let cert = ca.sign(&request).unwrap().certificate;
        let options: Vec<(&str, &str)> = cert
            .critical_options()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            options,
            [
                ("force-command", "/usr/bin/uptime"),
                ("source-address", "10.0.0.0/8,192.0.2.7,2001:db8::/32")
            ]
        );
    }

    #[test]
    fn refuses_requests_that_make_bad_certificates() {
        let ca = UserCa::generate("test CA").unwrap();
        let key = session_key().unwrap().public_key().clone();
        let new = |login: &str, subject: &str, session: &str| {
            CertRequest::new(key.clone(), login, subject, session)
        };
        let bad = [
            new("", "alice", "s"),
            new("root,ubuntu", "alice", "s"),
            new("-oops", "alice", "s"),
            new("ubuntu", "", "s"),
            new("ubuntu", "alice\nAccepted publickey for root", "s"),
            new("ubuntu", "alice", ""),
            new("ubuntu", "alice", "s 2"),
            new("ubuntu", "alice", "s").force_command(""),
            new("ubuntu", "alice", "s").force_command("a\0b"),
            new("ubuntu", "alice", "s").source_addresses(["10.0.0.0/33"]),
            new("ubuntu", "alice", "s").source_addresses(["example.com"]),
            new("ubuntu", "alice", "s").source_addresses(["::1/"]),
        ];
        for request in bad {
            let error = ca.sign(&request).unwrap_err();
            assert!(
                matches!(error, CaError::InvalidRequest(_)),
                "{request:?}: {error}"
            );
        }
        // A subject with a space is fine: the session id is what follows the last one.
        assert_eq!(
            ca.sign(&new("ubuntu", "Alice Example", "s"))
                .unwrap()
                .record
                .key_id,
            "Alice Example s"
        );
    }

    #[test]
    fn session_keys_are_fresh_ed25519_keys() {
        let (a, b) = (session_key().unwrap(), session_key().unwrap());
        assert_eq!(a.algorithm(), Algorithm::Ed25519);
        assert_ne!(a.public_key(), b.public_key());
        // The CA certifies any key: a session key or a client's.
        let ca = UserCa::generate("c").unwrap();
        for key in [&a, &b] {
            let request = CertRequest::new(key.public_key().clone(), "deploy", "bob", "s-9");
            assert_eq!(
                ca.sign(&request).unwrap().certificate.public_key(),
                key.public_key().key_data()
            );
        }
    }

    #[test]
    fn public_key_line_is_an_openssh_public_key() {
        let ca = UserCa::generate("zt user CA").unwrap();
        let line = ca.public_key_line();
        assert!(line.starts_with("ssh-ed25519 AAAA"), "{line}");
        assert!(line.ends_with(" zt user CA"), "{line}");
        assert_eq!(&PublicKey::from_openssh(line).unwrap(), ca.public_key());
    }

    #[test]
    fn generates_a_0600_key_in_a_0700_directory_and_loads_it_again() {
        let temp = TempDir::new("generate");
        let path = temp.0.join("state/ssh").join("ca_key");
        let ca = UserCa::load_or_generate(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&temp.0.join("state/ssh")), 0o700);
        assert_eq!(mode(&temp.0.join("state")), 0o700);
        let pem = std::fs::read_to_string(&path).unwrap();
        assert!(
            pem.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"),
            "{pem}"
        );
        // No temp files left behind.
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );

        // Second start: the same key, from either constructor.
        let again = UserCa::load_or_generate(&path).unwrap();
        assert_eq!(again.fingerprint(), ca.fingerprint());
        assert_eq!(again.public_key_line(), ca.public_key_line());
        assert_eq!(UserCa::load(&path).unwrap().fingerprint(), ca.fingerprint());
        // A certificate of the first is valid for the second.
        let cert = ca.sign(&request()).unwrap().certificate;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        cert.validate_at(now, [again.fingerprint()]).unwrap();
    }

    #[test]
    fn never_replaces_an_existing_key_file() {
        let temp = TempDir::new("exists");
        let path = temp.0.join("ca_key");
        let first = UserCa::load_or_generate(&path).unwrap();
        let other = keyfile::generate_ed25519("other").unwrap();
        let error = keyfile::write_private_key(&path, &other).unwrap_err();
        assert!(
            matches!(&error, CaError::KeyFile { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists),
            "{error}"
        );
        assert_eq!(
            UserCa::load(&path).unwrap().fingerprint(),
            first.fingerprint()
        );
    }

    #[test]
    fn refuses_a_key_file_others_may_read() {
        let temp = TempDir::new("perms");
        let path = temp.0.join("ca_key");
        UserCa::load_or_generate(&path).unwrap();
        for bad in [0o644, 0o640, 0o604, 0o660, 0o602] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(bad)).unwrap();
            for error in [
                UserCa::load(&path).unwrap_err(),
                UserCa::load_or_generate(&path).unwrap_err(),
            ] {
                assert!(
                    matches!(error, CaError::InsecurePermissions { mode, .. } if mode == bad),
                    "{error}"
                );
                let message = error.to_string();
                assert!(message.contains(&format!("mode {bad:03o}")), "{message}");
                assert!(message.contains("chmod 600"), "{message}");
            }
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        UserCa::load(&path).unwrap();
    }

    #[test]
    fn load_reports_missing_and_malformed_files() {
        let temp = TempDir::new("bad");
        let missing = temp.0.join("nope");
        let error = UserCa::load(&missing).unwrap_err();
        assert!(matches!(error, CaError::KeyFile { .. }), "{error}");
        assert!(error.to_string().contains("nope"), "{error}");

        let garbage = temp.0.join("garbage");
        std::fs::write(&garbage, "not a key").unwrap();
        std::fs::set_permissions(&garbage, std::fs::Permissions::from_mode(0o600)).unwrap();
        let error = UserCa::load(&garbage).unwrap_err();
        assert!(matches!(error, CaError::InvalidKeyFile { .. }), "{error}");
        // And generation does not paper over a broken file.
        assert!(UserCa::load_or_generate(&garbage).is_err());

        let error = UserCa::load(&temp.0).unwrap_err();
        assert!(matches!(error, CaError::KeyFile { .. }), "{error}");
    }

    #[test]
    fn debug_output_has_no_key_material() {
        let temp = TempDir::new("debug");
        let path = temp.0.join("ca_key");
        let ca = UserCa::load_or_generate(&path).unwrap();
        let pem = std::fs::read_to_string(&path).unwrap();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let seed = match ca.key.key_data() {
            ssh_key::private::KeypairData::Ed25519(pair) => pair.private.to_bytes(),
            _ => unreachable!(),
        };
        let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
        let debug = format!("{ca:?}");
        assert!(debug.contains(&ca.fingerprint().to_string()), "{debug}");
        for secret in [&body[40..80], &hex[..16]] {
            assert!(!debug.contains(secret), "{debug}");
            assert!(
                !debug.to_lowercase().contains(&secret.to_lowercase()),
                "{debug}"
            );
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = format!("{:?}", UserCa::load(&path).unwrap_err());
        assert!(
            !error.contains(&body[40..80]) && !error.contains(&hex[..16]),
            "{error}"
        );
    }
}
