//! JOSE signature algorithms zt accepts, and their aws-lc-rs verification parameters.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::signature as sig;
use serde::{Deserialize, Serialize};

/// An asymmetric JWS algorithm (RFC 7518, RFC 8037).
///
/// Symmetric (`HS*`) algorithms and `none` are deliberately absent: a verifier that
/// only holds public keys must never accept them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// Ed25519 (RFC 8037 `EdDSA` with `crv` = `Ed25519`).
    EdDSA,
}

/// The key family an algorithm needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyFamily {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Algorithm; 9] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
    ];

    /// The JOSE `alg` name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }

    pub(crate) const fn family(self) -> KeyFamily {
        match self {
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                KeyFamily::Rsa
            }
            Self::ES256 => KeyFamily::P256,
            Self::ES384 => KeyFamily::P384,
            Self::EdDSA => KeyFamily::Ed25519,
        }
    }

    pub(crate) fn rsa_parameters(self) -> Option<&'static sig::RsaParameters> {
        Some(match self {
            Self::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            Self::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            Self::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
            Self::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
            Self::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
            Self::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }

    /// The verification algorithm for keys given as raw bytes (EC points, Ed25519);
    /// `None` for RSA, whose keys are built from components with [`Self::rsa_parameters`].
    pub(crate) fn raw_key_algorithm(self) -> Option<&'static dyn sig::VerificationAlgorithm> {
        match self {
            Self::ES256 => Some(&sig::ECDSA_P256_SHA256_FIXED),
            Self::ES384 => Some(&sig::ECDSA_P384_SHA384_FIXED),
            Self::EdDSA => Some(&sig::ED25519),
            _ => None,
        }
    }

    /// Names a header's `alg` for error messages without echoing attacker-chosen text:
    /// known JOSE names are returned as is, anything else as "unrecognised".
    pub(crate) fn describe(alg: &str) -> &'static str {
        const KNOWN: [&str; 14] = [
            "none", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384",
            "PS512", "ES256", "ES384", "ES512", "EdDSA",
        ];
        KNOWN
            .iter()
            .find(|known| **known == alg)
            .copied()
            .unwrap_or("an unrecognised algorithm")
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for an `alg` name zt does not accept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a supported signature algorithm")]
pub struct UnsupportedAlgorithm(pub &'static str);

impl FromStr for Algorithm {
    type Err = UnsupportedAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|alg| alg.name() == s)
            .ok_or(UnsupportedAlgorithm(Self::describe(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.name().parse::<Algorithm>(), Ok(alg));
        }
    }

    #[test]
    fn symmetric_and_none_are_not_algorithms() {
        for name in ["none", "HS256", "HS512", "", "rs256"] {
            assert!(name.parse::<Algorithm>().is_err(), "{name}");
        }
    }
}
