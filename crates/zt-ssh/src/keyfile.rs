//! OpenSSH private key files: fresh Ed25519 keys, written 0600 without ever clobbering
//! an existing file, and read back only when no one but the owner can read them.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use russh::keys::ssh_key::private::{Ed25519Keypair, Ed25519PrivateKey};
use russh::keys::ssh_key::{LineEnding, PrivateKey};
use zeroize::Zeroizing;

use crate::ca::CaError;

/// Mode of a private key file.
const KEY_FILE_MODE: u32 = 0o600;
/// Mode of a key directory zt creates.
const KEY_DIR_MODE: u32 = 0o700;
/// Private key files are tiny; anything larger is not one.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// A new Ed25519 key pair from the system's CSPRNG (through aws-lc-rs).
pub(crate) fn generate_ed25519(comment: &str) -> Result<PrivateKey, CaError> {
    let mut seed = Zeroizing::new([0u8; Ed25519PrivateKey::BYTE_SIZE]);
    aws_lc_rs::rand::fill(seed.as_mut_slice()).map_err(|_| CaError::Random)?;
    let mut key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    key.set_comment(comment);
    Ok(key)
}

/// `n` random bytes from the system's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], CaError> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| CaError::Random)?;
    Ok(bytes)
}

/// Writes `key` to `path` as an OpenSSH private key file with mode 0600, creating the
/// parent directory with mode 0700 if it is missing.
///
/// The key goes to a temporary file in the same directory first and is then hard-linked
/// to `path`, so `path` never holds a partial key, and an existing `path` (say, a key
/// another replica created a moment ago) is never replaced: that case fails with
/// [`io::ErrorKind::AlreadyExists`].
pub(crate) fn write_private_key(path: &Path, key: &PrivateKey) -> Result<(), CaError> {
    let file_error = |source| CaError::KeyFile {
        path: path.to_owned(),
        source,
    };
    let pem = key.to_openssh(LineEnding::LF)?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    if !dir.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(KEY_DIR_MODE)
            .create(&dir)
            .map_err(|source| CaError::KeyFile {
                path: dir.clone(),
                source,
            })?;
    }
    let name = path
        .file_name()
        .ok_or_else(|| file_error(io::Error::other("the path names no file")))?;
    let mut temp_name = name.to_owned();
    temp_name.push(format!(".tmp-{}", std::process::id()));
    let temp = dir.join(temp_name);
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(KEY_FILE_MODE)
            .open(&temp)?;
        // The umask cannot widen 0600, but a pre-set default ACL could; be explicit.
        file.set_permissions(fs::Permissions::from_mode(KEY_FILE_MODE))?;
        file.write_all(pem.as_bytes())?;
        file.sync_all()?;
        fs::hard_link(&temp, path)
    })();
    let _ = fs::remove_file(&temp);
    written.map_err(file_error)?;
    // Make the new name durable; a failure here does not undo the key.
    if let Ok(dir) = File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Reads an unencrypted OpenSSH private key from `path`, refusing a file that its group
/// or others may read or write.
pub(crate) fn read_private_key(path: &Path) -> Result<PrivateKey, CaError> {
    let file_error = |source| CaError::KeyFile {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(file_error)?;
    // Check the file that was opened, not the path again (no race with a swap).
    let metadata = file.metadata().map_err(file_error)?;
    if !metadata.is_file() {
        return Err(file_error(io::Error::other("not a regular file")));
    }
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CaError::InsecurePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    if metadata.len() > MAX_KEY_FILE_BYTES {
        return Err(file_error(io::Error::other("too large for a private key")));
    }
    let mut pem = Zeroizing::new(Vec::with_capacity(metadata.len() as usize));
    file.read_to_end(&mut pem).map_err(file_error)?;
    let key = PrivateKey::from_openssh(&*pem).map_err(|source| CaError::InvalidKeyFile {
        path: path.to_owned(),
        source,
    })?;
    if key.is_encrypted() {
        return Err(CaError::EncryptedKey {
            path: path.to_owned(),
        });
    }
    Ok(key)
}
