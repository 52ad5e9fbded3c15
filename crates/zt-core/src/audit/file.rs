//! The JSON-lines file sink with size-based rotation.
//!
//! The active file is `PATH`; when a write would take it past the size limit it is
//! synced and renamed to `PATH.000001`, `PATH.000002`, ... (oldest first) and a new
//! `PATH` begins. A write is never split, so a file may exceed the limit by one write
//! (at most 256 KiB of events). The hash chain runs on across files.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{AuditSink, Recovered};

/// Default size at which the active file is rotated.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 128 * 1024 * 1024;
/// Bytes read from the end of a file to find its last line.
const TAIL_WINDOW: u64 = 1 << 20;

/// Bytes appended but not yet synced that the sink keeps a copy of (see [`FileSink`]);
/// beyond this it syncs before appending more.
const MAX_UNSYNCED_BYTES: usize = 16 * 1024 * 1024;

/// Appends audit lines to a file, rotating by size.
///
/// A failed `fsync` may have dropped the written pages while reporting the error only
/// once (Linux marks them clean), so a plain retry could claim durability for data that
/// is gone. The sink therefore keeps the bytes appended since the last successful sync,
/// and after a failed sync truncates the file to its synced length and writes them again
/// before the writer retries the sync.
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    file: File,
    len: u64,
    max_bytes: u64,
    /// Length of the active file known to be on disk.
    synced_len: u64,
    /// What was appended after `synced_len`.
    unsynced: Vec<u8>,
    /// A failed write left bytes after `len` that could not be removed yet.
    dirty_tail: bool,
}

impl FileSink {
    /// Opens (or creates) the active log file at `path`.
    pub fn open(path: impl Into<PathBuf>) -> io::Result<Self> {
        let path = path.into();
        let existed = path.exists();
        let file = open_append(&path)?;
        if !existed {
            sync_dir(&path)?;
        }
        let len = file.metadata()?.len();
        Ok(Self {
            path,
            file,
            len,
            max_bytes: DEFAULT_MAX_FILE_BYTES,
            synced_len: len,
            unsynced: Vec::new(),
            dirty_tail: false,
        })
    }

    /// Rotates when the active file would exceed `bytes` (default 128 MiB).
    #[must_use]
    pub fn max_file_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes.max(1);
        self
    }

    /// The log's files in chain order: rotated files oldest first, then the active file.
    pub fn files(path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = rotated_files(path)?.into_iter().map(|(_, p)| p).collect();
        if path.exists() {
            files.push(path.to_owned());
        }
        Ok(files)
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.sync_active()?;
        // A rotation that failed after the rename is finished by opening the new file.
        let mut rotated = None;
        if self.path.exists() {
            let next = rotated_files(&self.path)?.last().map_or(1, |(n, _)| n + 1);
            let mut name = self.path.clone().into_os_string();
            name.push(format!(".{next:06}"));
            fs::rename(&self.path, &name)?;
            rotated = Some(PathBuf::from(name));
        }
        self.file = open_append(&self.path)?;
        self.len = 0;
        self.synced_len = 0;
        sync_dir(&self.path)?;
        if let Some(rotated) = rotated {
            tracing::info!(rotated = %rotated.display(), "rotated audit log");
        }
        Ok(())
    }

    /// Syncs the active file; after a failure, re-writes what may have been lost so that
    /// the next attempt really makes it durable.
    fn sync_active(&mut self) -> io::Result<()> {
        match self.file.sync_data() {
            Ok(()) => {
                self.synced_len = self.len;
                self.unsynced.clear();
                Ok(())
            }
            Err(error) => {
                tracing::error!(%error, "audit log fsync failed; rewriting the unsynced tail");
                self.file.set_len(self.synced_len)?;
                self.file.write_all(&self.unsynced)?;
                Err(error)
            }
        }
    }
}

impl AuditSink for FileSink {
    fn append(&mut self, lines: &[u8]) -> io::Result<()> {
        if self.dirty_tail {
            self.file.set_len(self.len)?;
            self.dirty_tail = false;
        }
        if self.len > 0 && self.len + lines.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        if self.unsynced.len() + lines.len() > MAX_UNSYNCED_BYTES {
            self.sync_active()?;
        }
        if let Err(error) = self.file.write_all(lines) {
            // Leave no partial line behind: the writer will retry these lines.
            if let Err(truncate) = self.file.set_len(self.len) {
                tracing::error!(%truncate, "could not remove a partial audit write yet");
                self.dirty_tail = true;
            }
            return Err(error);
        }
        self.len += lines.len() as u64;
        self.unsynced.extend_from_slice(lines);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        self.sync_active()
    }

    fn recover(&mut self) -> io::Result<Recovered> {
        let (last_line, complete_len) = last_complete_line(&mut self.file, self.len)?;
        let discarded_bytes = self.len - complete_len;
        if discarded_bytes > 0 {
            tracing::warn!(path = %self.path.display(), discarded_bytes, "discarding a torn last audit line");
            self.file.set_len(complete_len)?;
            self.file.sync_all()?;
            self.len = complete_len;
            self.synced_len = complete_len;
        }
        if last_line.is_some() {
            return Ok(Recovered::new(last_line, discarded_bytes));
        }
        // An empty active file continues the chain of the newest rotated one.
        let previous = match rotated_files(&self.path)?.pop() {
            Some((_, path)) => {
                let mut file = File::open(path)?;
                let len = file.metadata()?.len();
                last_complete_line(&mut file, len)?.0
            }
            None => None,
        };
        Ok(Recovered::new(previous, discarded_bytes))
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
}

/// Rotated siblings `PATH.NNNNNN`, by number.
fn rotated_files(path: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Ok(Vec::new());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(suffix) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(name))
            .and_then(|s| s.strip_prefix('.'))
        else {
            continue;
        };
        if suffix.len() >= 6
            && suffix.bytes().all(|b| b.is_ascii_digit())
            && let Ok(number) = suffix.parse::<u64>()
        {
            // Named after `path` itself, not the directory listing, for stable output.
            let mut rotated = path.as_os_str().to_owned();
            rotated.push(format!(".{suffix}"));
            found.push((number, PathBuf::from(rotated)));
        }
    }
    found.sort();
    Ok(found)
}

/// The last `\n`-terminated line of the first `len` bytes of `file`, and the length of
/// the file up to and including it.
fn last_complete_line(file: &mut File, len: u64) -> io::Result<(Option<Vec<u8>>, u64)> {
    let start = len.saturating_sub(TAIL_WINDOW);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::with_capacity((len - start) as usize);
    file.take(len - start).read_to_end(&mut tail)?;
    let Some(end) = tail.iter().rposition(|b| *b == b'\n') else {
        return Ok((None, start));
    };
    let line_start = tail[..end]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let line = (line_start < end).then(|| tail[line_start..end].to_vec());
    Ok((line, start + end as u64 + 1))
}

/// Makes a rename durable.
fn sync_dir(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => File::open(".")?.sync_all(),
    }
}
