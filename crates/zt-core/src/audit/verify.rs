//! Checking an audit log: every line's own hash, every link, the sequence, and the ends.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use super::chain::{ChainedLine, GENESIS, Hash, LineError};

/// Where in the log something was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// File name as given.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// What is wrong at a [`Problem`]'s location.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The line is not a chained audit event.
    Malformed(&'static str),
    /// The line's content does not match its hash: it was edited.
    Edited,
    /// The line does not follow the one before it: lines were deleted, inserted or
    /// reordered, or files are missing or out of order.
    BrokenLink,
    /// The sequence number skips or repeats.
    SequenceGap {
        /// The number that should be here.
        expected: u64,
        /// The number found.
        found: u64,
    },
    /// The log does not start at the chain's beginning: earlier lines or files are missing.
    StartsMidChain,
    /// A line other than the very last one is cut short.
    TornLine,
}

impl ProblemKind {
    /// A stable machine-readable name, e.g. `broken_link`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::Edited => "edited",
            Self::BrokenLink => "broken_link",
            Self::SequenceGap { .. } => "sequence_gap",
            Self::StartsMidChain => "starts_mid_chain",
            Self::TornLine => "torn_line",
        }
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "not an audit event line: {why}"),
            Self::Edited => f.write_str("content does not match its hash: the line was edited"),
            Self::BrokenLink => f.write_str(
                "does not follow the line before: lines were deleted, inserted or reordered, or files are missing or out of order",
            ),
            Self::SequenceGap { expected, found } => write!(f, "sequence number {found}, expected {expected}"),
            Self::StartsMidChain => {
                f.write_str("the log starts mid-chain: earlier lines or files are missing (truncated at the front)")
            }
            Self::TornLine => f.write_str("the line is cut short and more lines follow"),
        }
    }
}

/// The first thing wrong with a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub at: Location,
    /// What.
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.kind)
    }
}

/// What [`verify_files`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Complete, verified events before the first problem.
    pub events: u64,
    /// Sequence number of the last verified event.
    pub last_seq: Option<u64>,
    /// Whether the last event is an `audit.sealed` (the writer shut down cleanly).
    pub sealed: bool,
    /// A cut-short last line (the writer was killed mid-write); not an error.
    pub torn_tail: Option<Location>,
    /// The first problem, if any; nothing after it was checked.
    pub problem: Option<Problem>,
}

impl VerifyReport {
    /// Whether the chain is intact (a torn last line and a missing seal are allowed).
    pub fn is_intact(&self) -> bool {
        self.problem.is_none()
    }
}

/// Verifies log files as one chain, in the order given (oldest first; see
/// [`FileSink::files`](super::FileSink::files)).
pub fn verify_files(paths: &[impl AsRef<Path>]) -> io::Result<VerifyReport> {
    let mut state = State::default();
    for (index, path) in paths.iter().enumerate() {
        let path = path.as_ref();
        let reader = BufReader::new(File::open(path)?);
        verify_into(
            &mut state,
            &path.display().to_string(),
            reader,
            index + 1 == paths.len(),
        )?;
        if state.report.problem.is_some() {
            break;
        }
    }
    Ok(state.report)
}

/// Verifies one stream of lines as a whole chain.
pub fn verify_lines(name: &str, reader: impl BufRead) -> io::Result<VerifyReport> {
    let mut state = State::default();
    verify_into(&mut state, name, reader, true)?;
    Ok(state.report)
}

#[derive(Default)]
struct State {
    report: VerifyReport,
    last: Option<(u64, Hash)>,
    /// A torn line seen at the end of an earlier file.
    pending_torn: Option<Location>,
}

fn verify_into(
    state: &mut State,
    name: &str,
    mut reader: impl BufRead,
    last_file: bool,
) -> io::Result<()> {
    let mut buffer = Vec::new();
    let mut number = 0;
    loop {
        buffer.clear();
        if reader.read_until(b'\n', &mut buffer)? == 0 {
            break;
        }
        number += 1;
        let at = Location {
            file: name.to_owned(),
            line: number,
        };
        if let Some(torn) = state.pending_torn.take() {
            return fail(state, torn, ProblemKind::TornLine);
        }
        let Some(line) = buffer.strip_suffix(b"\n") else {
            // No newline: the writer was cut off in the middle of this line.
            state.pending_torn = Some(at);
            continue;
        };
        let chained = match ChainedLine::parse(line) {
            Ok(chained) => chained,
            Err(LineError::HashMismatch) => return fail(state, at, ProblemKind::Edited),
            Err(LineError::Malformed(why)) => return fail(state, at, ProblemKind::Malformed(why)),
        };
        let (expected_seq, expected_prev) = match state.last {
            Some((seq, hash)) => (seq.saturating_add(1), hash),
            None => (1, GENESIS),
        };
        if chained.prev != expected_prev {
            let kind = if state.last.is_none() {
                ProblemKind::StartsMidChain
            } else {
                ProblemKind::BrokenLink
            };
            return fail(state, at, kind);
        }
        if chained.seq != expected_seq {
            return fail(
                state,
                at,
                ProblemKind::SequenceGap {
                    expected: expected_seq,
                    found: chained.seq,
                },
            );
        }
        state.last = Some((chained.seq, chained.hash));
        state.report.events += 1;
        state.report.last_seq = Some(chained.seq);
        state.report.sealed = chained.kind == "audit.sealed";
    }
    if last_file {
        state.report.torn_tail = state.pending_torn.take();
    }
    Ok(())
}

fn fail(state: &mut State, at: Location, kind: ProblemKind) -> io::Result<()> {
    state.report.problem = Some(Problem { at, kind });
    Ok(())
}
