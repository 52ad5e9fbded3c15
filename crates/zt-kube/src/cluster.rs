//! [`ClusterAccess`]: how the proxy reaches the API server, from a kubeconfig (YAML or
//! JSON, the current or a named context) or from inside a pod (the service account).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

/// The in-cluster service account directory.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Where the API server is and how the proxy authenticates to it.
#[derive(Debug)]
#[non_exhaustive]
pub struct ClusterAccess {
    /// The API server URL.
    pub server: String,
    /// CA certificates the API server's certificate must chain to (empty: platform roots).
    pub ca: Vec<CertificateDer<'static>>,
    /// The proxy's credential.
    pub credential: ClusterCredential,
}

/// How the proxy authenticates to the API server.
#[non_exhaustive]
pub enum ClusterCredential {
    /// A bearer token.
    Token(String),
    /// A bearer token re-read from a file as it rotates.
    TokenFile(PathBuf),
    /// A client certificate and its key.
    ClientCertificate {
        /// The certificate chain.
        chain: Vec<CertificateDer<'static>>,
        /// The private key.
        key: PrivateKeyDer<'static>,
    },
}

impl std::fmt::Debug for ClusterCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Token(_) => f.write_str("Token(<redacted>)"),
            Self::TokenFile(path) => write!(f, "TokenFile({})", path.display()),
            Self::ClientCertificate { .. } => f.write_str("ClientCertificate(<redacted key>)"),
        }
    }
}

/// Why a kubeconfig gives no usable cluster access.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterAccessError {
    /// A file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The kubeconfig is not valid YAML of the expected shape.
    #[error("{path}: not a kubeconfig: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        reason: String,
    },
    /// Something the kubeconfig names is missing or unusable.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Kubeconfig {
    #[serde(default)]
    clusters: Vec<Named<Cluster>>,
    #[serde(default)]
    users: Vec<Named<User>>,
    #[serde(default)]
    contexts: Vec<Named<Context>>,
    #[serde(default)]
    current_context: Option<String>,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "cluster", alias = "user", alias = "context")]
    value: T,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Cluster {
    server: String,
    #[serde(default)]
    certificate_authority: Option<PathBuf>,
    #[serde(default)]
    certificate_authority_data: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct User {
    #[serde(default)]
    token: Option<String>,
    #[serde(default, rename = "tokenFile")]
    token_file: Option<PathBuf>,
    #[serde(default)]
    client_certificate: Option<PathBuf>,
    #[serde(default)]
    client_certificate_data: Option<String>,
    #[serde(default)]
    client_key: Option<PathBuf>,
    #[serde(default)]
    client_key_data: Option<String>,
}

#[derive(Deserialize)]
struct Context {
    cluster: String,
    #[serde(default)]
    user: Option<String>,
}

impl ClusterAccess {
    /// The cluster and user of `context` (default: the current context) in the kubeconfig
    /// at `path`. Relative file paths in it are relative to the kubeconfig's directory, as
    /// kubectl resolves them; exec and auth-provider users are not supported (the proxy
    /// needs a credential of its own).
    ///
    /// # Errors
    /// [`ClusterAccessError`] naming the file and what is wrong.
    pub fn from_kubeconfig(path: &Path, context: Option<&str>) -> Result<Self, ClusterAccessError> {
        let text = read(path)?;
        let config: Kubeconfig =
            serde_saphyr::from_str(&String::from_utf8_lossy(&text)).map_err(|error| {
                ClusterAccessError::Parse {
                    path: path.to_owned(),
                    reason: error.to_string(),
                }
            })?;
        let invalid = |reason: String| ClusterAccessError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let name = context
            .map(str::to_owned)
            .or(config.current_context.clone())
            .filter(|name| !name.is_empty())
            .ok_or_else(|| invalid("no context given and no current-context".to_owned()))?;
        let context = find(&config.contexts, &name)
            .ok_or_else(|| invalid(format!("no context named `{name}`")))?;
        let cluster = find(&config.clusters, &context.cluster)
            .ok_or_else(|| invalid(format!("no cluster named `{}`", context.cluster)))?;
        let user = match &context.user {
            Some(user) => find(&config.users, user)
                .ok_or_else(|| invalid(format!("no user named `{user}`")))?,
            None => return Err(invalid(format!("context `{name}` names no user"))),
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |file: &Path| base.join(file);
        let ca = match (
            &cluster.certificate_authority_data,
            &cluster.certificate_authority,
        ) {
            (Some(data), _) => certificates(&decode(data).map_err(&invalid)?, path)?,
            (None, Some(file)) => certificates(&read(&resolve(file))?, &resolve(file))?,
            (None, None) => Vec::new(),
        };
        let cert = match (&user.client_certificate_data, &user.client_certificate) {
            (Some(data), _) => Some(decode(data).map_err(&invalid)?),
            (None, Some(file)) => Some(read(&resolve(file))?),
            (None, None) => None,
        };
        let key = match (&user.client_key_data, &user.client_key) {
            (Some(data), _) => Some(decode(data).map_err(&invalid)?),
            (None, Some(file)) => Some(read(&resolve(file))?),
            (None, None) => None,
        };
        let credential = match (&user.token, &user.token_file, cert, key) {
            (Some(token), _, _, _) => ClusterCredential::Token(token.clone()),
            (None, Some(file), _, _) => ClusterCredential::TokenFile(resolve(file)),
            (None, None, Some(cert), Some(key)) => ClusterCredential::ClientCertificate {
                chain: certificates(&cert, path)?,
                key: zt_core::tls::pem_private_key(&key)
                    .map_err(|e| invalid(format!("client key: {e}")))?,
            },
            (None, None, Some(_), None) | (None, None, None, Some(_)) => {
                return Err(invalid(
                    "a client certificate needs both the certificate and its key".to_owned(),
                ));
            }
            (None, None, None, None) => {
                return Err(invalid(format!(
                    "user `{}` has no token, token file or client certificate",
                    context.user.as_deref().unwrap_or_default()
                )));
            }
        };
        Ok(Self {
            server: cluster.server.clone(),
            ca,
            credential,
        })
    }

    /// The API server as seen from inside a pod: `KUBERNETES_SERVICE_HOST` and `_PORT`,
    /// the service account's CA and its token (re-read as it rotates).
    ///
    /// # Errors
    /// Not in a pod, or the service account files cannot be read.
    pub fn in_cluster() -> Result<Self, ClusterAccessError> {
        let dir = Path::new(SERVICE_ACCOUNT_DIR);
        let invalid = |reason: &str| ClusterAccessError::Invalid {
            path: dir.to_owned(),
            reason: reason.to_owned(),
        };
        let host = std::env::var("KUBERNETES_SERVICE_HOST")
            .map_err(|_| invalid("KUBERNETES_SERVICE_HOST is not set: not running in a pod"))?;
        let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".to_owned());
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        let ca_file = dir.join("ca.crt");
        Ok(Self {
            server: format!("https://{host}:{port}"),
            ca: certificates(&read(&ca_file)?, &ca_file)?,
            credential: ClusterCredential::TokenFile(dir.join("token")),
        })
    }
}

fn find<'a, T>(list: &'a [Named<T>], name: &str) -> Option<&'a T> {
    list.iter()
        .find(|entry| entry.name == name)
        .map(|entry| &entry.value)
}

fn read(path: &Path) -> Result<Vec<u8>, ClusterAccessError> {
    std::fs::read(path).map_err(|source| ClusterAccessError::Read {
        path: path.to_owned(),
        source,
    })
}

fn decode(data: &str) -> Result<Vec<u8>, String> {
    STANDARD
        .decode(data.trim())
        .map_err(|e| format!("base64 data: {e}"))
}

fn certificates(
    pem: &[u8],
    origin: &Path,
) -> Result<Vec<CertificateDer<'static>>, ClusterAccessError> {
    zt_core::tls::pem_certificates(pem).map_err(|e| ClusterAccessError::Invalid {
        path: origin.to_owned(),
        reason: format!("certificates: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("zt-cluster-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap_or_default();
            Self(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn pem_pair() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap_or_else(|_| unreachable!());
        let cert = rcgen::CertificateParams::new(vec!["proxy".to_owned()])
            .and_then(|params| params.self_signed(&key))
            .unwrap_or_else(|_| unreachable!());
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn token_and_ca_data_from_the_current_context() {
        let dir = Dir::new("token");
        let (ca, _) = pem_pair();
        let config = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: prod\nclusters:\n- name: c\n  cluster:\n    server: https://10.0.0.1:6443\n    certificate-authority-data: {}\nusers:\n- name: u\n  user:\n    token: s3cret\ncontexts:\n- name: other\n  context:\n    cluster: missing\n    user: u\n- name: prod\n  context:\n    cluster: c\n    user: u\n",
            STANDARD.encode(&ca)
        );
        let path = dir.0.join("config");
        std::fs::write(&path, config).unwrap_or_default();
        let access = ClusterAccess::from_kubeconfig(&path, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(access.server, "https://10.0.0.1:6443");
        assert_eq!(access.ca.len(), 1);
        assert!(matches!(&access.credential, ClusterCredential::Token(t) if t == "s3cret"));
        assert!(!format!("{access:?}").contains("s3cret"));
        let error = ClusterAccess::from_kubeconfig(&path, Some("other")).map(|_| ());
        assert!(
            matches!(error, Err(ClusterAccessError::Invalid { reason, .. }) if reason.contains("no cluster named `missing`"))
        );
    }

    #[test]
    fn client_certificates_from_files_relative_to_the_kubeconfig() {
        let dir = Dir::new("cert");
        let (cert, key) = pem_pair();
        std::fs::write(dir.0.join("proxy.crt"), &cert).unwrap_or_default();
        std::fs::write(dir.0.join("proxy.key"), &key).unwrap_or_default();
        std::fs::write(dir.0.join("ca.crt"), &cert).unwrap_or_default();
        // JSON is YAML too: kubeconfigs written by `kube-proxy kubeconfig` read the same.
        let config = r#"{"apiVersion":"v1","kind":"Config","current-context":"x",
          "clusters":[{"name":"c","cluster":{"server":"https://api:443","certificate-authority":"ca.crt"}}],
          "users":[{"name":"u","user":{"client-certificate":"proxy.crt","client-key":"proxy.key"}}],
          "contexts":[{"name":"x","context":{"cluster":"c","user":"u"}}]}"#;
        let path = dir.0.join("config.json");
        std::fs::write(&path, config).unwrap_or_default();
        let access = ClusterAccess::from_kubeconfig(&path, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(access.server, "https://api:443");
        assert!(
            matches!(access.credential, ClusterCredential::ClientCertificate { ref chain, .. } if chain.len() == 1)
        );
    }

    #[test]
    fn unusable_kubeconfigs_say_why() {
        let dir = Dir::new("bad");
        let path = dir.0.join("config");
        std::fs::write(&path, "clusters: [\n").unwrap_or_default();
        assert!(matches!(
            ClusterAccess::from_kubeconfig(&path, None),
            Err(ClusterAccessError::Parse { .. })
        ));
        std::fs::write(
            &path,
            "current-context: x\nclusters:\n- name: c\n  cluster:\n    server: https://a\nusers:\n- name: u\n  user:\n    exec:\n      command: aws\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n",
        )
        .unwrap_or_default();
        let error = ClusterAccess::from_kubeconfig(&path, None).map(|_| ());
        assert!(
            matches!(error, Err(ClusterAccessError::Invalid { reason, .. }) if reason.contains("no token"))
        );
        let missing = ClusterAccess::from_kubeconfig(&dir.0.join("nope"), None).map(|_| ());
        assert!(matches!(missing, Err(ClusterAccessError::Read { .. })));
    }
}
