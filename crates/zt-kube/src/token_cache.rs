//! The exec-credential plugin's token cache: one JSON file per (issuer, client id) under
//! the user's cache directory, readable by the user only, replaced atomically.
//!
//! Location: `$XDG_CACHE_HOME/zt/kube/` (or `~/.cache/zt/kube/`), file
//! `<first 32 hex digits of SHA-256(issuer "\n" client_id)>.json`. Directories are created
//! with mode 0700, files with mode 0600; a write goes to a temporary file in the same
//! directory first and is then renamed over the old file, so readers (concurrent `kubectl`
//! invocations) see the old or the new contents, never a torn file.
//!
//! Tokens are held in [`Secret`], which prints as `<redacted>` in `Debug`.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// How long a token must still be valid to be handed out from the cache (60 seconds):
/// kubectl caches the credential until its expiry, and the request needs time to arrive.
pub const MIN_REMAINING_VALIDITY: SignedDuration = SignedDuration::from_secs(60);

/// The cache file format version written and accepted.
const FORMAT_VERSION: u32 = 1;

/// A token or other secret string: `Debug` and `Display` never show it; serialized as the
/// plain string (it is written to the 0600 cache file and to kubectl's pipe, nowhere else).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret string.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Only for sending it where it belongs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

/// Why the cache could not be read, written or removed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// Neither `$XDG_CACHE_HOME` nor `$HOME` is set (pass a cache directory explicitly).
    #[error("no cache directory: neither XDG_CACHE_HOME nor HOME is set; pass --cache-dir")]
    NoCacheDir,
    /// A file system operation failed.
    #[error("token cache {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The cache file is not a token cache this version understands.
    #[error("token cache {path} is unreadable ({reason}); `kube-proxy logout` removes it")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it (never its contents).
        reason: String,
    },
}

impl CacheError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// The tokens of one sign-in, as cached.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CachedTokens {
    /// Format version ([`FORMAT_VERSION`]).
    version: u32,
    /// The issuer the tokens are from.
    pub issuer: String,
    /// The client they were issued to.
    pub client_id: String,
    /// The `sub` of the verified ID token of the sign-in.
    pub subject: String,
    /// The access token.
    pub access_token: Secret,
    /// When the access token expires (`expires_in`, or its own `exp` when it is a JWT and
    /// that is earlier).
    pub access_token_expires_at: Timestamp,
    /// The ID token, if the IdP issued one.
    pub id_token: Option<Secret>,
    /// When the ID token expires (its verified `exp`).
    pub id_token_expires_at: Option<Timestamp>,
    /// The refresh token, if the IdP issued one.
    pub refresh_token: Option<Secret>,
    /// When these tokens were obtained.
    pub obtained_at: Timestamp,
}

impl fmt::Debug for CachedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedTokens")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("subject", &self.subject)
            .field("access_token", &self.access_token)
            .field("access_token_expires_at", &self.access_token_expires_at)
            .field("id_token", &self.id_token)
            .field("id_token_expires_at", &self.id_token_expires_at)
            .field("refresh_token", &self.refresh_token)
            .field("obtained_at", &self.obtained_at)
            .finish()
    }
}

impl CachedTokens {
    /// Tokens of a sign-in at `issuer` as `client_id` by `subject`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        subject: impl Into<String>,
        access_token: Secret,
        access_token_expires_at: Timestamp,
        id_token: Option<(Secret, Timestamp)>,
        refresh_token: Option<Secret>,
        obtained_at: Timestamp,
    ) -> Self {
        let (id_token, id_token_expires_at) = match id_token {
            Some((token, exp)) => (Some(token), Some(exp)),
            None => (None, None),
        };
        Self {
            version: FORMAT_VERSION,
            issuer: issuer.into(),
            client_id: client_id.into(),
            subject: subject.into(),
            access_token,
            access_token_expires_at,
            id_token,
            id_token_expires_at,
            refresh_token,
            obtained_at,
        }
    }
}

/// Whether a token expiring at `expires_at` is still good at `now`: valid for at least
/// [`MIN_REMAINING_VALIDITY`] more.
pub fn is_fresh(expires_at: Timestamp, now: Timestamp) -> bool {
    expires_at.duration_since(now) >= MIN_REMAINING_VALIDITY
}

/// The default cache directory: `$XDG_CACHE_HOME/zt/kube`, else `$HOME/.cache/zt/kube`.
/// Relative `XDG_CACHE_HOME` values are ignored, as the XDG spec requires.
///
/// # Errors
/// [`CacheError::NoCacheDir`] when neither variable gives an absolute path.
pub fn default_cache_dir() -> Result<PathBuf, CacheError> {
    let xdg = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let home = || {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .map(|h| h.join(".cache"))
    };
    xdg.or_else(home)
        .map(|base| base.join("zt").join("kube"))
        .ok_or(CacheError::NoCacheDir)
}

/// The cache entry of one (issuer, client id).
#[derive(Clone, Debug)]
pub struct TokenCache {
    dir: PathBuf,
    path: PathBuf,
}

impl TokenCache {
    /// The entry for `issuer` and `client_id` in `dir` (see [`default_cache_dir`]).
    pub fn new(dir: impl Into<PathBuf>, issuer: &str, client_id: &str) -> Self {
        let dir = dir.into();
        let path = dir.join(format!("{}.json", entry_name(issuer, client_id)));
        Self { dir, path }
    }

    /// The cache file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cached tokens, `None` when there are none.
    ///
    /// # Errors
    /// [`CacheError::Io`] if the file exists but cannot be read, [`CacheError::Corrupt`]
    /// if it is not a token cache of this version.
    pub fn load(&self) -> Result<Option<CachedTokens>, CacheError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CacheError::io(&self.path, e)),
        };
        let tokens: CachedTokens =
            serde_json::from_slice(&bytes).map_err(|e| CacheError::Corrupt {
                path: self.path.clone(),
                // Position and category only: serde's message can quote the contents.
                reason: format!(
                    "{:?} error at line {} column {}",
                    e.classify(),
                    e.line(),
                    e.column()
                ),
            })?;
        if tokens.version != FORMAT_VERSION {
            return Err(CacheError::Corrupt {
                path: self.path.clone(),
                reason: format!("format version {}", tokens.version),
            });
        }
        Ok(Some(tokens))
    }

    /// Replaces the cached tokens atomically (temporary file, then rename), creating the
    /// directory (0700) if needed; the file has mode 0600.
    ///
    /// # Errors
    /// [`CacheError::Io`] if the directory or file cannot be written.
    pub fn store(&self, tokens: &CachedTokens) -> Result<(), CacheError> {
        let json = serde_json::to_vec_pretty(tokens).map_err(|e| CacheError::Corrupt {
            path: self.path.clone(),
            reason: format!("serialising: {:?}", e.classify()),
        })?;
        create_private_dir(&self.dir)?;
        write_atomically(&self.path, &json)
    }

    /// Removes the cached tokens. Returns whether there were any.
    ///
    /// # Errors
    /// [`CacheError::Io`] if the file exists but cannot be removed.
    pub fn remove(&self) -> Result<bool, CacheError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(CacheError::io(&self.path, e)),
        }
    }
}

/// The file stem for (issuer, client id): 128 bits of SHA-256, hex.
fn entry_name(issuer: &str, client_id: &str) -> String {
    let mut input = Vec::with_capacity(issuer.len() + client_id.len() + 1);
    input.extend_from_slice(issuer.trim_end_matches('/').as_bytes());
    input.push(b'\n');
    input.extend_from_slice(client_id.as_bytes());
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &input);
    digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Creates `dir` and its missing parents with mode 0700.
fn create_private_dir(dir: &Path) -> Result<(), CacheError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| CacheError::io(dir, e))?;
    // A cache directory that already existed with looser permissions is tightened too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir)
            .map_err(|e| CacheError::io(dir, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| CacheError::io(dir, e))?;
        }
    }
    Ok(())
}

/// Writes `contents` to a new 0600 file next to `path`, syncs it and renames it over
/// `path`. The temporary file is removed if anything fails.
pub(crate) fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), CacheError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(CacheError::io(path, e));
    }
    // Make the rename durable; failing to sync the directory is not worth an error.
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            static N: AtomicU64 = AtomicU64::new(0);
            let dir = std::env::temp_dir().join(format!(
                "zt-kube-cache-{name}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn sample(now: Timestamp) -> CachedTokens {
        CachedTokens::new(
            "https://idp.example",
            "kubectl",
            "alice",
            Secret::new("access-SECRET-1"),
            now + SignedDuration::from_secs(300),
            Some((
                Secret::new("id-SECRET-2"),
                now + SignedDuration::from_secs(200),
            )),
            Some(Secret::new("refresh-SECRET-3")),
            now,
        )
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn round_trip_with_private_permissions() {
        let tmp = TempDir::new("perms");
        let dir = tmp.0.join("zt").join("kube");
        let cache = TokenCache::new(&dir, "https://idp.example", "kubectl");
        assert!(cache.load().unwrap().is_none());
        let tokens = sample(Timestamp::now());
        cache.store(&tokens).unwrap();
        assert_eq!(cache.load().unwrap(), Some(tokens.clone()));
        #[cfg(unix)]
        {
            assert_eq!(mode(cache.path()), 0o600);
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(dir.parent().unwrap()), 0o700);
        }
        assert!(cache.remove().unwrap());
        assert!(!cache.remove().unwrap());
        assert!(cache.load().unwrap().is_none());
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_open_cache_directory_is_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = TempDir::new("loose");
        let dir = tmp.0.join("kube");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let cache = TokenCache::new(&dir, "https://idp.example", "kubectl");
        cache.store(&sample(Timestamp::now())).unwrap();
        assert_eq!(mode(&dir), 0o700);
    }

    #[test]
    fn store_replaces_atomically_and_leaves_no_temporary_files() {
        let tmp = TempDir::new("atomic");
        let cache = TokenCache::new(&tmp.0, "https://idp.example", "kubectl");
        let mut tokens = sample(Timestamp::now());
        cache.store(&tokens).unwrap();
        // An existing 0644 file is replaced by a 0600 one (rename, not rewrite in place).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        tokens.subject = "bob".into();
        cache.store(&tokens).unwrap();
        assert_eq!(cache.load().unwrap().unwrap().subject, "bob");
        #[cfg(unix)]
        assert_eq!(mode(cache.path()), 0o600);
        let names: Vec<String> = std::fs::read_dir(&tmp.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(names[0].ends_with(".json"));
        // A stale temporary file of a crashed writer does not block the next write.
        std::fs::write(tmp.0.join(format!(".{}.stale.tmp", names[0])), b"x").unwrap();
        cache.store(&tokens).unwrap();
    }

    #[test]
    fn entries_are_per_issuer_and_client() {
        let a = TokenCache::new("/c", "https://idp.example", "kubectl");
        let b = TokenCache::new("/c", "https://idp.example/", "kubectl");
        let c = TokenCache::new("/c", "https://idp.example", "other");
        let d = TokenCache::new("/c", "https://idp.example\nother", "");
        assert_eq!(a.path(), b.path());
        assert_ne!(a.path(), c.path());
        assert_ne!(c.path(), d.path());
        let name = a.path().file_name().unwrap().to_str().unwrap();
        assert_eq!(name.len(), 32 + ".json".len());
    }

    #[test]
    fn corrupt_files_are_reported_without_their_contents() {
        let tmp = TempDir::new("corrupt");
        let cache = TokenCache::new(&tmp.0, "https://idp.example", "kubectl");
        std::fs::create_dir_all(&tmp.0).unwrap();
        std::fs::write(cache.path(), b"{\"access_token\": \"leaky-SECRET\"").unwrap();
        let err = cache.load().unwrap_err();
        assert!(matches!(err, CacheError::Corrupt { .. }));
        assert!(!err.to_string().contains("SECRET"), "{err}");
        assert!(err.to_string().contains("logout"));
        let mut future = serde_json::to_value(sample(Timestamp::now())).unwrap();
        future["version"] = 99.into();
        std::fs::write(cache.path(), future.to_string()).unwrap();
        assert!(matches!(cache.load(), Err(CacheError::Corrupt { .. })));
    }

    #[test]
    fn freshness_needs_a_minute() {
        let now = Timestamp::now();
        assert!(is_fresh(now + SignedDuration::from_secs(61), now));
        assert!(is_fresh(now + SignedDuration::from_secs(60), now));
        assert!(!is_fresh(now + SignedDuration::from_secs(59), now));
        assert!(!is_fresh(now - SignedDuration::from_secs(1), now));
    }

    #[test]
    fn tokens_are_redacted_in_debug() {
        let tokens = sample(Timestamp::now());
        let debug = format!("{tokens:?} {:?}", Secret::new("x-SECRET"));
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(debug.contains("<redacted>"));
        assert!(debug.contains("alice"));
        // The file, of course, has them.
        let json = serde_json::to_string(&tokens).unwrap();
        assert!(json.contains("refresh-SECRET-3"));
    }

    #[test]
    fn default_dir_follows_xdg() {
        // Only reads the environment; the assertions hold whatever it is.
        match default_cache_dir() {
            Ok(dir) => {
                assert!(dir.is_absolute());
                assert!(dir.ends_with("zt/kube"));
            }
            Err(e) => assert!(matches!(e, CacheError::NoCacheDir)),
        }
    }
}
