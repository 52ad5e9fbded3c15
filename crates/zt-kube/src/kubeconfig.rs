//! kubeconfig entries for the proxy: a cluster (the proxy's URL and CA), a user whose
//! credential comes from `kube-proxy login` (an `exec` block,
//! `client.authentication.k8s.io/v1`), and a context joining them.
//!
//! The file is written as JSON, which kubectl reads like YAML (JSON is YAML). A new file
//! gets mode 0600 and is written atomically; an existing file is only replaced with
//! `force`, or, with `merge`, updated in place when it is JSON (entries with the same
//! names are replaced, everything else is kept). YAML kubeconfigs are not rewritten (no
//! YAML library here): write a separate file and list both in `KUBECONFIG`.
//!
//! ```
//! use zt_kube::kubeconfig::KubeconfigEntry;
//!
//! let entry = KubeconfigEntry::new(
//!     "zt-prod",
//!     "https://kube.example.com",
//!     "/usr/local/bin/kube-proxy",
//!     "https://idp.example.com",
//!     "kubectl",
//! );
//! let json = entry.to_kubeconfig();
//! assert_eq!(json["current-context"], "zt-prod");
//! assert_eq!(json["users"][0]["user"]["exec"]["args"][0], "login");
//! ```

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::exec_credential::API_VERSION;
use crate::login::TokenKind;
use crate::token_cache::{CacheError, write_atomically};

/// Why the kubeconfig could not be generated or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubeconfigError {
    /// The file exists and neither `force` nor `merge` was given.
    #[error("{0} exists; pass --force to replace it or --merge to add the entries to it")]
    Exists(PathBuf),
    /// `merge` was asked for but the existing file is not a JSON kubeconfig.
    #[error(
        "{path} is not a JSON kubeconfig ({reason}), so it cannot be merged into; write a \
         separate file and use KUBECONFIG={path}:<new file>"
    )]
    NotMergeable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Reading a file (the CA, an existing kubeconfig) failed.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The CA file is not PEM.
    #[error("{0} is not a PEM certificate file")]
    NotPem(PathBuf),
    /// Invalid input (server URL, names).
    #[error("{0}")]
    Invalid(String),
    /// Writing failed.
    #[error(transparent)]
    Write(#[from] CacheError),
    /// The path of the running executable could not be found.
    #[error("cannot find the path of this program ({0}); pass --command")]
    CurrentExe(std::io::Error),
}

/// One cluster + user + context for the proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KubeconfigEntry {
    /// Name of the cluster, user and context.
    pub name: String,
    /// The proxy's URL.
    pub server: String,
    /// PEM of the CA that issued the proxy's certificate; `None` for the system roots.
    pub certificate_authority_pem: Option<Vec<u8>>,
    /// The credential plugin (a `kube-proxy` binary).
    pub command: String,
    /// `--issuer` for `kube-proxy login`.
    pub issuer: String,
    /// `--client-id` for `kube-proxy login`.
    pub client_id: String,
    /// More arguments for `kube-proxy login` (e.g. `--token-kind id`).
    pub extra_login_args: Vec<String>,
}

impl KubeconfigEntry {
    /// An entry named `name` for the proxy at `server`, signing in through `command login`.
    pub fn new(
        name: impl Into<String>,
        server: impl Into<String>,
        command: impl Into<String>,
        issuer: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            server: server.into(),
            certificate_authority_pem: None,
            command: command.into(),
            issuer: issuer.into(),
            client_id: client_id.into(),
            extra_login_args: Vec::new(),
        }
    }

    /// Sets the CA (PEM) that verifies the proxy's certificate.
    #[must_use]
    pub fn certificate_authority(mut self, pem: Vec<u8>) -> Self {
        self.certificate_authority_pem = Some(pem);
        self
    }

    /// Adds arguments to the `login` command line.
    #[must_use]
    pub fn login_args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.extra_login_args
            .extend(args.into_iter().map(Into::into));
        self
    }

    /// The `exec` block of the user entry.
    pub fn exec(&self) -> Value {
        let mut args = vec![
            "login".to_owned(),
            "--issuer".to_owned(),
            self.issuer.clone(),
            "--client-id".to_owned(),
            self.client_id.clone(),
        ];
        args.extend(self.extra_login_args.iter().cloned());
        json!({
            "apiVersion": API_VERSION,
            "command": self.command,
            "args": args,
            "env": null,
            "interactiveMode": "IfAvailable",
            "provideClusterInfo": false,
        })
    }

    fn cluster(&self) -> Value {
        let mut cluster = json!({ "server": self.server });
        if let Some(pem) = &self.certificate_authority_pem {
            cluster["certificate-authority-data"] =
                Value::String(base64::engine::general_purpose::STANDARD.encode(pem));
        }
        json!({ "name": self.name, "cluster": cluster })
    }

    fn user(&self) -> Value {
        json!({ "name": self.name, "user": { "exec": self.exec() } })
    }

    fn context(&self) -> Value {
        json!({ "name": self.name, "context": { "cluster": self.name, "user": self.name } })
    }

    /// A complete kubeconfig with just this entry, as its current context.
    pub fn to_kubeconfig(&self) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [self.cluster()],
            "users": [self.user()],
            "contexts": [self.context()],
            "current-context": self.name,
        })
    }

    /// Adds this entry to an existing kubeconfig (replacing a cluster, user or context of
    /// the same name) and makes it the current context.
    ///
    /// # Errors
    /// [`KubeconfigError::Invalid`] if `config` is not a kubeconfig object.
    pub fn merge_into(&self, config: &mut Value) -> Result<(), KubeconfigError> {
        let object = config
            .as_object_mut()
            .ok_or_else(|| KubeconfigError::Invalid("the kubeconfig is not an object".into()))?;
        if let Some(kind) = object.get("kind").and_then(Value::as_str)
            && kind != "Config"
        {
            return Err(KubeconfigError::Invalid(format!(
                "the file's kind is {kind:?}, not Config"
            )));
        }
        object.entry("apiVersion").or_insert_with(|| "v1".into());
        object.entry("kind").or_insert_with(|| "Config".into());
        for (key, item) in [
            ("clusters", self.cluster()),
            ("users", self.user()),
            ("contexts", self.context()),
        ] {
            let list = object
                .entry(key)
                .or_insert_with(|| Value::Array(Vec::new()));
            if list.is_null() {
                *list = Value::Array(Vec::new());
            }
            let list = list
                .as_array_mut()
                .ok_or_else(|| KubeconfigError::Invalid(format!("{key} is not a list")))?;
            list.retain(|e| e.get("name").and_then(Value::as_str) != Some(self.name.as_str()));
            list.push(item);
        }
        object.insert("current-context".into(), Value::String(self.name.clone()));
        Ok(())
    }
}

/// What to do when the output file exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Existing {
    /// Refuse ([`KubeconfigError::Exists`]).
    #[default]
    Refuse,
    /// Replace the file.
    Replace,
    /// Merge into it if it is a JSON kubeconfig.
    Merge,
}

/// Writes `entry` to `path` (mode 0600, atomically), handling an existing file as
/// `existing` says. Returns whether an existing file was merged into.
///
/// # Errors
/// See [`KubeconfigError`].
pub fn write_kubeconfig(
    path: &Path,
    entry: &KubeconfigEntry,
    existing: Existing,
) -> Result<bool, KubeconfigError> {
    let current = match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(KubeconfigError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let (config, merged) = match (current, existing) {
        (None, _) | (Some(_), Existing::Replace) => (entry.to_kubeconfig(), false),
        (Some(_), Existing::Refuse) => return Err(KubeconfigError::Exists(path.to_owned())),
        (Some(bytes), Existing::Merge) => {
            let mut config: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
                json!({})
            } else {
                serde_json::from_slice(&bytes).map_err(|e| KubeconfigError::NotMergeable {
                    path: path.to_owned(),
                    reason: format!("line {} column {}", e.line(), e.column()),
                })?
            };
            entry
                .merge_into(&mut config)
                .map_err(|e| KubeconfigError::NotMergeable {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?;
            (config, true)
        }
    };
    let mut text = serde_json::to_string_pretty(&config)
        .map_err(|e| KubeconfigError::Invalid(e.to_string()))?;
    text.push('\n');
    write_atomically(path, text.as_bytes())?;
    Ok(merged)
}

/// Reads a PEM CA file for [`KubeconfigEntry::certificate_authority`].
///
/// # Errors
/// [`KubeconfigError::Read`] or [`KubeconfigError::NotPem`].
pub fn read_ca_file(path: &Path) -> Result<Vec<u8>, KubeconfigError> {
    let pem = std::fs::read(path).map_err(|source| KubeconfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    if !pem
        .windows(b"-----BEGIN CERTIFICATE-----".len())
        .any(|w| w == b"-----BEGIN CERTIFICATE-----")
    {
        return Err(KubeconfigError::NotPem(path.to_owned()));
    }
    Ok(pem)
}

/// The `login` arguments beyond issuer and client id that a kubeconfig should pass on.
pub fn login_args(
    token_kind: Option<TokenKind>,
    audience: Option<&str>,
    scopes: &[String],
) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(kind) = token_kind {
        args.extend(["--token-kind".to_owned(), kind.to_string()]);
    }
    if let Some(audience) = audience {
        args.extend(["--audience".to_owned(), audience.to_owned()]);
    }
    if !scopes.is_empty() {
        args.extend(["--scopes".to_owned(), scopes.join(",")]);
    }
    args
}

/// The default entry name for a server URL: `zt-<host>`.
pub fn default_name(server: &str) -> String {
    let host = url::Url::parse(server)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "proxy".to_owned());
    format!("zt-{}", host.trim_start_matches('[').trim_end_matches(']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> KubeconfigEntry {
        KubeconfigEntry::new(
            "zt-a",
            "https://kube.example:8443",
            "/bin/kube-proxy",
            "https://idp.example",
            "kubectl",
        )
        .certificate_authority(b"-----BEGIN CERTIFICATE-----\nMII\n".to_vec())
        .login_args(login_args(Some(TokenKind::Id), None, &[]))
    }

    #[test]
    fn entry_shape() {
        let config = entry().to_kubeconfig();
        let exec = &config["users"][0]["user"]["exec"];
        assert_eq!(exec["apiVersion"], API_VERSION);
        assert_eq!(exec["interactiveMode"], "IfAvailable");
        assert_eq!(exec["provideClusterInfo"], false);
        assert_eq!(
            exec["args"],
            json!([
                "login",
                "--issuer",
                "https://idp.example",
                "--client-id",
                "kubectl",
                "--token-kind",
                "id"
            ])
        );
        assert_eq!(
            config["clusters"][0]["cluster"]["certificate-authority-data"],
            "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSQo="
        );
        assert_eq!(config["contexts"][0]["context"]["user"], "zt-a");
        assert_eq!(default_name("https://[::1]:8443"), "zt-::1");
        assert_eq!(default_name("https://kube.example"), "zt-kube.example");
    }

    #[test]
    fn merge_replaces_same_names_and_keeps_the_rest() {
        let mut config = json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "other", "cluster": {"server": "https://o"}},
                         {"name": "zt-a", "cluster": {"server": "https://old"}}],
            "users": null,
            "current-context": "other"
        });
        entry().merge_into(&mut config).unwrap();
        assert_eq!(config["clusters"].as_array().unwrap().len(), 2);
        assert_eq!(config["clusters"][0]["name"], "other");
        assert_eq!(
            config["clusters"][1]["cluster"]["server"],
            "https://kube.example:8443"
        );
        assert_eq!(config["users"].as_array().unwrap().len(), 1);
        assert_eq!(config["current-context"], "zt-a");
        assert!(entry().merge_into(&mut json!([])).is_err());
        assert!(entry().merge_into(&mut json!({"kind": "Pod"})).is_err());
    }

    #[test]
    fn writes_private_files_and_refuses_to_overwrite() {
        let dir = std::env::temp_dir().join(format!("zt-kube-kubeconfig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        let _ = std::fs::remove_file(&path);
        assert!(!write_kubeconfig(&path, &entry(), Existing::Refuse).unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(matches!(
            write_kubeconfig(&path, &entry(), Existing::Refuse),
            Err(KubeconfigError::Exists(_))
        ));
        assert!(!write_kubeconfig(&path, &entry(), Existing::Replace).unwrap());
        assert!(write_kubeconfig(&path, &entry(), Existing::Merge).unwrap());
        std::fs::write(&path, "apiVersion: v1\nkind: Config\n").unwrap();
        let err = write_kubeconfig(&path, &entry(), Existing::Merge).unwrap_err();
        assert!(matches!(err, KubeconfigError::NotMergeable { .. }), "{err}");
        assert!(err.to_string().contains("KUBECONFIG="));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn ca_files_must_be_pem() {
        let dir = std::env::temp_dir().join(format!("zt-kube-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ca.crt");
        std::fs::write(&path, b"not a certificate").unwrap();
        assert!(matches!(
            read_ca_file(&path),
            Err(KubeconfigError::NotPem(_))
        ));
        assert!(matches!(
            read_ca_file(&dir.join("missing")),
            Err(KubeconfigError::Read { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
