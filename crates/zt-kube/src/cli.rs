//! clap arguments (derive) and the code behind the `kube-proxy login`, `logout` and
//! `kubeconfig` subcommands, so the binary only wires them:
//!
//! ```no_run
//! use clap::{Parser, Subcommand};
//! use zt_kube::cli::{KubeconfigArgs, LoginArgs, LogoutArgs};
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(subcommand)]
//!     command: Command,
//! }
//!
//! #[derive(Subcommand)]
//! enum Command {
//!     Login(LoginArgs),
//!     Logout(LogoutArgs),
//!     Kubeconfig(KubeconfigArgs),
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! match Cli::parse().command {
//!     Command::Login(args) => args.run().await?,
//!     Command::Logout(args) => args.run().await?,
//!     Command::Kubeconfig(args) => args.run()?,
//! }
//! # Ok(()) }
//! ```
//!
//! The `about`/`long_about` texts of the subcommands are on the argument structs, so
//! `#[command(subcommand)]` variants get them without doc comments of their own.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;

use crate::exec_credential::{ExecInfo, is_interactive};
use crate::kubeconfig::{
    Existing, KubeconfigEntry, KubeconfigError, default_name, login_args, read_ca_file,
    write_kubeconfig,
};
use crate::login::{
    CredentialSource, DEFAULT_SCOPES, LoginConfig, LoginError, Revocation, TokenKind,
    print_device_prompt,
};
use crate::token_cache::{Secret, default_cache_dir};

/// The identity provider and client, shared by `login` and `logout`.
#[derive(Clone, Debug, clap::Args)]
#[non_exhaustive]
pub struct ClientArgs {
    /// The OpenID Connect issuer URL (https; http only for loopback).
    #[arg(long, value_name = "URL")]
    pub issuer: String,
    /// The OAuth client id registered at the IdP for kubectl (a public client with the
    /// device authorization grant enabled).
    #[arg(long, value_name = "ID")]
    pub client_id: String,
    /// A file holding the client secret, for IdPs that register kubectl as a confidential
    /// client. Trailing whitespace is ignored.
    #[arg(long, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// Where tokens are cached (default: $XDG_CACHE_HOME/zt/kube or ~/.cache/zt/kube).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

impl ClientArgs {
    fn config(&self) -> Result<LoginConfig, LoginError> {
        let dir = match &self.cache_dir {
            Some(dir) => dir.clone(),
            None => default_cache_dir()?,
        };
        let mut config = LoginConfig::new(&self.issuer, &self.client_id, dir);
        if let Some(path) = &self.client_secret_file {
            let secret = std::fs::read_to_string(path).map_err(|e| {
                LoginError::Config(format!("client secret file {}: {e}", path.display()))
            })?;
            let secret = secret.trim_end();
            if secret.is_empty() {
                return Err(LoginError::Config(format!(
                    "client secret file {} is empty",
                    path.display()
                )));
            }
            config = config.client_secret(Secret::new(secret));
        }
        Ok(config)
    }
}

/// `kube-proxy login`: print a kubectl ExecCredential with a token for the proxy.
#[derive(Clone, Debug, clap::Args)]
#[command(
    about = "Get a token for kubectl (the exec credential plugin)",
    long_about = "Get a token for kubectl: prints a client.authentication.k8s.io/v1 \
ExecCredential on stdout, as kubectl's exec credential plugins do.\n\n\
A cached token valid for at least another minute is used as is; otherwise the refresh \
token is used; otherwise, when there is a terminal, you sign in with the OIDC device \
flow: open the URL printed on stderr and confirm the code. Without a terminal \
(kubectl's interactive mode off) it fails and asks you to run `kube-proxy login` \
in a terminal.\n\n\
Run by hand in a terminal, it signs in and caches the token without printing it."
)]
#[non_exhaustive]
pub struct LoginArgs {
    /// The identity provider and client.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Scopes to ask for besides `openid`, comma-separated.
    #[arg(
        long,
        value_name = "SCOPES",
        value_delimiter = ',',
        default_values_t = DEFAULT_SCOPES.map(String::from)
    )]
    pub scopes: Vec<String>,
    /// Which token to give kubectl: `auto` presents the access token if it is a JWT for
    /// the audience (see --audience), otherwise the ID token.
    #[arg(long, value_enum, default_value_t = TokenKind::Auto)]
    pub token_kind: TokenKind,
    /// The access-token audience `--token-kind auto` looks for (default: the client id).
    #[arg(long, value_name = "AUDIENCE")]
    pub audience: Option<String>,
}

impl LoginArgs {
    /// The [`LoginConfig`] these arguments describe.
    ///
    /// # Errors
    /// [`LoginError::Config`] if the secret file cannot be read, [`LoginError::Cache`] if
    /// there is no cache directory.
    pub fn config(&self) -> Result<LoginConfig, LoginError> {
        let mut config = self
            .client
            .config()?
            .scopes(self.scopes.iter().map(|s| s.trim().to_owned()))
            .token_kind(self.token_kind);
        if let Some(audience) = &self.audience {
            config = config.audience(audience);
        }
        Ok(config)
    }

    /// Runs `login`: reads `KUBERNETES_EXEC_INFO`, obtains a credential and prints the
    /// ExecCredential JSON on stdout. When stdout is a terminal and kubectl did not start
    /// the plugin, it prints a confirmation on stderr instead of the token.
    ///
    /// # Errors
    /// See [`LoginError`]; its message is meant for the user (kubectl shows stderr).
    pub async fn run(&self) -> Result<(), LoginError> {
        let info = ExecInfo::from_env()?;
        let interactive = is_interactive(info.as_ref());
        let config = self.config()?;
        let issuer = config.issuer().to_owned();
        let obtained = config
            .credential(interactive, |auth| print_device_prompt(&issuer, auth))
            .await?;
        if info.is_none() && std::io::stdout().is_terminal() {
            let how = match obtained.source {
                CredentialSource::Cache => "already signed in",
                CredentialSource::Refresh => "refreshed the sign-in",
                CredentialSource::DeviceCode => "signed in",
            };
            eprintln!(
                "{how} as {} at {issuer}; the token is valid until {} and cached in {}",
                obtained.subject,
                obtained.expires_at,
                config.cache().path().display()
            );
            return Ok(());
        }
        let json = obtained.credential.to_json()?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{json}")
            .and_then(|()| stdout.flush())
            .map_err(LoginError::Output)
    }
}

/// `kube-proxy logout`: forget the cached tokens.
#[derive(Clone, Debug, clap::Args)]
#[command(
    about = "Remove the cached tokens (and revoke the refresh token at the IdP)",
    long_about = "Remove the cached tokens of this issuer and client. When the identity \
provider has a revocation endpoint, the refresh token is revoked there too (best effort: \
the local tokens are removed whatever the IdP answers)."
)]
#[non_exhaustive]
pub struct LogoutArgs {
    /// The identity provider and client.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Only remove the local cache entry; do not contact the IdP.
    #[arg(long)]
    pub no_revoke: bool,
}

impl LogoutArgs {
    /// Runs `logout`, reporting what it did on stderr.
    ///
    /// # Errors
    /// [`LoginError::Cache`] if the cache entry cannot be removed.
    pub async fn run(&self) -> Result<(), LoginError> {
        let config = self.client.config()?;
        let outcome = config.logout(!self.no_revoke).await?;
        if outcome.removed {
            eprintln!("removed {}", config.cache().path().display());
        } else {
            eprintln!("no cached tokens for {}", config.issuer());
        }
        match outcome.revocation {
            Revocation::Revoked => eprintln!("the refresh token is revoked at the IdP"),
            Revocation::Failed(why) => {
                eprintln!("warning: revoking the refresh token at the IdP failed: {why}")
            }
            Revocation::Unsupported => {
                eprintln!("the IdP has no revocation endpoint; its session may still be active")
            }
            _ => {}
        }
        Ok(())
    }
}

/// `kube-proxy kubeconfig`: write a kubeconfig that uses `kube-proxy login`.
#[derive(Clone, Debug, clap::Args)]
#[command(
    about = "Write a kubeconfig for the proxy that signs in with `kube-proxy login`",
    long_about = "Write a kubeconfig (JSON, which kubectl reads like YAML) with a cluster \
for the proxy, a user whose token comes from `kube-proxy login` (an exec credential \
plugin, client.authentication.k8s.io/v1) and a context joining them, set as current.\n\n\
The file is created with mode 0600. An existing file is left alone unless --force \
(replace it) or --merge (add or replace the entries; JSON kubeconfigs only) is given. \
Without --output the kubeconfig goes to stdout."
)]
#[non_exhaustive]
pub struct KubeconfigArgs {
    /// The proxy's URL (https), for example `https://kube.example.com:8443`.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// PEM file with the CA that issued the proxy's certificate (default: system roots).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// The OpenID Connect issuer URL, passed on to `login`.
    #[arg(long, value_name = "URL")]
    pub issuer: String,
    /// The OAuth client id, passed on to `login`.
    #[arg(long, value_name = "ID")]
    pub client_id: String,
    /// `--token-kind` for `login` (left out when not given).
    #[arg(long, value_enum)]
    pub token_kind: Option<TokenKind>,
    /// `--audience` for `login` (left out when not given).
    #[arg(long, value_name = "AUDIENCE")]
    pub audience: Option<String>,
    /// `--scopes` for `login`, comma-separated (left out when not given).
    #[arg(long, value_name = "SCOPES", value_delimiter = ',')]
    pub scopes: Vec<String>,
    /// The credential plugin command (default: this program's path).
    #[arg(long, value_name = "PATH")]
    pub command: Option<PathBuf>,
    /// Name of the context, cluster and user (default: `zt-` and the server's host name).
    #[arg(long, value_name = "NAME")]
    pub context_name: Option<String>,
    /// Where to write the kubeconfig (default: stdout).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace the output file if it exists.
    #[arg(long, conflicts_with = "merge")]
    pub force: bool,
    /// Add the entries to the output file if it exists (JSON kubeconfigs only).
    #[arg(long)]
    pub merge: bool,
}

impl KubeconfigArgs {
    /// The entry these arguments describe.
    ///
    /// # Errors
    /// [`KubeconfigError`] for an unreadable CA file, a bad server URL or no program path.
    pub fn entry(&self) -> Result<KubeconfigEntry, KubeconfigError> {
        let server = url::Url::parse(&self.server)
            .map_err(|e| KubeconfigError::Invalid(format!("--server {:?}: {e}", self.server)))?;
        if server.scheme() != "https" {
            return Err(KubeconfigError::Invalid(format!(
                "--server must be an https URL (kubectl sends the token to it): {}",
                self.server
            )));
        }
        let command = match &self.command {
            Some(path) => path.clone(),
            None => std::env::current_exe().map_err(KubeconfigError::CurrentExe)?,
        };
        let name = self
            .context_name
            .clone()
            .unwrap_or_else(|| default_name(&self.server));
        if name.is_empty() {
            return Err(KubeconfigError::Invalid("the context name is empty".into()));
        }
        let mut entry = KubeconfigEntry::new(
            name,
            self.server.trim_end_matches('/'),
            command.to_string_lossy(),
            self.issuer.trim_end_matches('/'),
            &self.client_id,
        )
        .login_args(login_args(
            self.token_kind,
            self.audience.as_deref(),
            &self.scopes,
        ));
        if let Some(ca) = &self.ca_file {
            entry = entry.certificate_authority(read_ca_file(ca)?);
        }
        Ok(entry)
    }

    /// Runs `kubeconfig`: writes the file (or stdout) and says what it did on stderr.
    ///
    /// # Errors
    /// See [`KubeconfigError`].
    pub fn run(&self) -> Result<(), KubeconfigError> {
        let entry = self.entry()?;
        let Some(path) = &self.output else {
            let text = serde_json::to_string_pretty(&entry.to_kubeconfig())
                .map_err(|e| KubeconfigError::Invalid(e.to_string()))?;
            println!("{text}");
            return Ok(());
        };
        let existing = if self.force {
            Existing::Replace
        } else if self.merge {
            Existing::Merge
        } else {
            Existing::Refuse
        };
        let merged = write_kubeconfig(path, &entry, existing)?;
        eprintln!(
            "{} context {:?} in {}; use it with: KUBECONFIG={} kubectl get ns",
            if merged { "added" } else { "wrote" },
            entry.name,
            path.display(),
            path.display()
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser, Subcommand};

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand)]
    enum Command {
        Login(LoginArgs),
        Logout(LogoutArgs),
        Kubeconfig(KubeconfigArgs),
    }

    #[test]
    fn parses_and_has_help() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "kube-proxy",
            "login",
            "--issuer",
            "https://idp.example",
            "--client-id",
            "kubectl",
            "--scopes",
            "groups,offline_access",
            "--token-kind",
            "id",
        ])
        .unwrap();
        let Command::Login(login) = cli.command else {
            panic!("not login")
        };
        assert_eq!(login.scopes, ["groups", "offline_access"]);
        assert_eq!(login.token_kind, TokenKind::Id);
        let defaults = Cli::try_parse_from([
            "kube-proxy",
            "login",
            "--issuer",
            "https://idp.example",
            "--client-id",
            "kubectl",
        ])
        .unwrap();
        let Command::Login(login) = defaults.command else {
            panic!("not login")
        };
        assert_eq!(login.scopes, DEFAULT_SCOPES);
        assert_eq!(login.token_kind, TokenKind::Auto);
        for sub in ["login", "logout", "kubeconfig"] {
            let help = Cli::try_parse_from(["kube-proxy", sub, "--help"])
                .err()
                .unwrap()
                .to_string();
            assert!(help.contains("--issuer"), "{sub}: {help}");
        }
        let help = Cli::try_parse_from(["kube-proxy", "login", "--help"])
            .err()
            .unwrap()
            .to_string();
        assert!(help.contains("ExecCredential on stdout"), "{help}");
        assert!(
            Cli::try_parse_from([
                "kube-proxy",
                "kubeconfig",
                "--server",
                "https://k",
                "--issuer",
                "https://i",
                "--client-id",
                "c",
                "--force",
                "--merge",
            ])
            .is_err()
        );
    }

    #[test]
    fn kubeconfig_needs_https_and_uses_the_given_command() {
        let cli = Cli::try_parse_from([
            "kube-proxy",
            "kubeconfig",
            "--server",
            "https://kube.example:8443/",
            "--issuer",
            "https://idp.example/",
            "--client-id",
            "kubectl",
            "--command",
            "/opt/kube-proxy",
            "--token-kind",
            "access",
        ])
        .unwrap();
        let Command::Kubeconfig(args) = cli.command else {
            panic!("not kubeconfig")
        };
        let entry = args.entry().unwrap();
        assert_eq!(entry.name, "zt-kube.example");
        assert_eq!(entry.command, "/opt/kube-proxy");
        assert_eq!(entry.server, "https://kube.example:8443");
        assert_eq!(entry.issuer, "https://idp.example");
        assert_eq!(entry.extra_login_args, ["--token-kind", "access"]);
        let mut plain = args.clone();
        plain.server = "http://kube.example".into();
        assert!(matches!(plain.entry(), Err(KubeconfigError::Invalid(_))));
    }
}
