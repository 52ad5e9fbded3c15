//! `client.authentication.k8s.io/v1` `ExecCredential`: what kubectl passes to a
//! credential plugin (the `KUBERNETES_EXEC_INFO` environment variable) and what the plugin
//! prints on stdout.
//!
//! ```
//! use jiff::Timestamp;
//! use zt_kube::exec_credential::{ExecCredential, ExecInfo};
//! use zt_kube::token_cache::Secret;
//!
//! let info = ExecInfo::parse(
//!     r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}"#,
//! )?;
//! assert!(!info.spec.interactive);
//!
//! let expiry: Timestamp = "2030-01-01T00:00:00Z".parse()?;
//! let out = ExecCredential::with_token(Secret::new("eyJ..."), Some(expiry)).to_json()?;
//! assert_eq!(
//!     out,
//!     r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"expirationTimestamp":"2030-01-01T00:00:00Z","token":"eyJ..."}}"#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io::IsTerminal as _;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::token_cache::Secret;

/// The API version this module speaks.
pub const API_VERSION: &str = "client.authentication.k8s.io/v1";

/// The object kind.
pub const KIND: &str = "ExecCredential";

/// The environment variable kubectl puts the input `ExecCredential` in.
pub const EXEC_INFO_ENV: &str = "KUBERNETES_EXEC_INFO";

/// Why the input could not be understood.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecCredentialError {
    /// `KUBERNETES_EXEC_INFO` is not an `ExecCredential` JSON object.
    #[error("KUBERNETES_EXEC_INFO is not valid ExecCredential JSON: {0}")]
    Malformed(String),
    /// The input names an API version other than [`API_VERSION`].
    #[error(
        "KUBERNETES_EXEC_INFO has apiVersion {0:?}; this plugin speaks {API_VERSION} \
         (set apiVersion: {API_VERSION} in the kubeconfig's exec block)"
    )]
    UnsupportedVersion(String),
    /// The output could not be serialised (does not happen with valid data).
    #[error("ExecCredential could not be serialised: {0}")]
    Serialise(String),
}

/// The `ExecCredential` kubectl hands to the plugin.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ExecInfo {
    /// `client.authentication.k8s.io/v1`.
    pub api_version: String,
    /// `ExecCredential`.
    pub kind: String,
    /// The spec.
    #[serde(default)]
    pub spec: ExecCredentialSpec,
}

/// `spec` of the input `ExecCredential`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ExecCredentialSpec {
    /// Whether kubectl gave the plugin the terminal (stdin), so it may prompt.
    #[serde(default)]
    pub interactive: bool,
    /// The cluster being talked to, when the kubeconfig sets `provideClusterInfo: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
}

/// `spec.cluster`: the kubeconfig's cluster entry as kubectl passes it on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct ClusterInfo {
    /// The API server URL.
    #[serde(default)]
    pub server: String,
    /// SNI name used for the server, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_server_name: Option<String>,
    /// Whether TLS verification is off.
    #[serde(default)]
    pub insecure_skip_tls_verify: bool,
    /// PEM CA bundle, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority_data: Option<String>,
    /// The proxy URL, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Whether response compression is off.
    #[serde(default)]
    pub disable_compression: bool,
    /// The `extensions[client.authentication.k8s.io/exec]` of the cluster entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
}

impl ExecInfo {
    /// Parses the contents of `KUBERNETES_EXEC_INFO`.
    ///
    /// # Errors
    /// [`ExecCredentialError::Malformed`] for invalid JSON,
    /// [`ExecCredentialError::UnsupportedVersion`] for another API version.
    pub fn parse(json: &str) -> Result<Self, ExecCredentialError> {
        let info: ExecInfo = serde_json::from_str(json)
            .map_err(|e| ExecCredentialError::Malformed(e.to_string()))?;
        if info.api_version != API_VERSION {
            return Err(ExecCredentialError::UnsupportedVersion(info.api_version));
        }
        if info.kind != KIND {
            return Err(ExecCredentialError::Malformed(format!(
                "kind is {:?}, not {KIND}",
                info.kind
            )));
        }
        Ok(info)
    }

    /// Reads [`EXEC_INFO_ENV`]; `None` when it is not set (the plugin was not started by
    /// kubectl, or by a kubectl older than v1.22 that does not set it).
    ///
    /// # Errors
    /// As [`ExecInfo::parse`].
    pub fn from_env() -> Result<Option<Self>, ExecCredentialError> {
        match std::env::var(EXEC_INFO_ENV) {
            Ok(json) if !json.trim().is_empty() => Self::parse(&json).map(Some),
            _ => Ok(None),
        }
    }
}

/// Whether the plugin may prompt the user: `spec.interactive` when kubectl said, otherwise
/// whether stdin is a terminal (the plugin was started by hand).
pub fn is_interactive(info: Option<&ExecInfo>) -> bool {
    match info {
        Some(info) => info.spec.interactive,
        None => std::io::stdin().is_terminal(),
    }
}

/// The `ExecCredential` the plugin prints on stdout.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ExecCredential {
    /// [`API_VERSION`].
    pub api_version: String,
    /// [`KIND`].
    pub kind: String,
    /// The credential.
    pub status: ExecCredentialStatus,
}

/// `status` of the output `ExecCredential`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ExecCredentialStatus {
    /// Until when kubectl may reuse the credential without running the plugin again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_timestamp: Option<Timestamp>,
    /// The bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
}

impl fmt::Debug for ExecCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecCredential")
            .field("api_version", &self.api_version)
            .field("kind", &self.kind)
            .field("status", &self.status)
            .finish()
    }
}

impl fmt::Debug for ExecCredentialStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecCredentialStatus")
            .field("expiration_timestamp", &self.expiration_timestamp)
            .field("token", &self.token)
            .finish()
    }
}

impl ExecCredential {
    /// A bearer-token credential. The expiry is cut to whole seconds (RFC 3339 without a
    /// fraction, as the API server writes it).
    pub fn with_token(token: Secret, expires_at: Option<Timestamp>) -> Self {
        let expiration_timestamp =
            expires_at.and_then(|t| Timestamp::from_second(t.as_second()).ok());
        Self {
            api_version: API_VERSION.to_owned(),
            kind: KIND.to_owned(),
            status: ExecCredentialStatus {
                expiration_timestamp,
                token: Some(token),
            },
        }
    }

    /// The JSON kubectl reads from the plugin's stdout (one line). It contains the token.
    ///
    /// # Errors
    /// [`ExecCredentialError::Serialise`], which valid values never produce.
    pub fn to_json(&self) -> Result<String, ExecCredentialError> {
        serde_json::to_string(self).map_err(|e| ExecCredentialError::Serialise(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kubectl_input() {
        let json = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":"https://127.0.0.1:6443","certificate-authority-data":"TFMwdA==","config":{"a":1}},"interactive":true}}"#;
        let info = ExecInfo::parse(json).unwrap();
        assert!(info.spec.interactive);
        let cluster = info.spec.cluster.unwrap();
        assert_eq!(cluster.server, "https://127.0.0.1:6443");
        assert_eq!(
            cluster.certificate_authority_data.as_deref(),
            Some("TFMwdA==")
        );
        assert!(is_interactive(Some(
            &ExecInfo::parse(
                r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":true}}"#
            )
            .unwrap()
        )));
        let quiet = ExecInfo::parse(
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{}}"#,
        )
        .unwrap();
        assert!(!is_interactive(Some(&quiet)));
    }

    #[test]
    fn rejects_other_versions_and_garbage() {
        let beta = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{}}"#;
        assert!(matches!(
            ExecInfo::parse(beta),
            Err(ExecCredentialError::UnsupportedVersion(v)) if v.ends_with("v1beta1")
        ));
        assert!(matches!(
            ExecInfo::parse("not json"),
            Err(ExecCredentialError::Malformed(_))
        ));
        assert!(matches!(
            ExecInfo::parse(r#"{"kind":"Pod","apiVersion":"client.authentication.k8s.io/v1"}"#),
            Err(ExecCredentialError::Malformed(_))
        ));
    }

    #[test]
    fn output_shape_and_redaction() {
        let expiry: Timestamp = "2030-05-06T07:08:09.75Z".parse().unwrap();
        let cred = ExecCredential::with_token(Secret::new("tok-SECRET"), Some(expiry));
        let json: serde_json::Value = serde_json::from_str(&cred.to_json().unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "apiVersion": "client.authentication.k8s.io/v1",
                "kind": "ExecCredential",
                "status": {"token": "tok-SECRET", "expirationTimestamp": "2030-05-06T07:08:09Z"}
            })
        );
        let debug = format!("{cred:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
    }
}
