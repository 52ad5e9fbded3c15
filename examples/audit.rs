//! Tools for zt audit logs: verify the hash chain, show the newest events, filter events,
//! and write a demo log to try them on. See `docs/audit.md`.
//!
//! ```text
//! cargo run --example audit -- demo /tmp/zt-audit.log
//! cargo run --example audit -- verify /tmp/zt-audit.log
//! cargo run --example audit -- tail -n 5 /tmp/zt-audit.log
//! cargo run --example audit -- grep /tmp/zt-audit.log --effect deny
//! ```

use std::collections::{HashSet, VecDeque};
use std::error::Error;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use zt_core::audit::{
    Actor, AuditEvent, Auditor, DEFAULT_MAX_FILE_BYTES, Decision, Effect, EventKind, FileSink,
    OverflowPolicy, Source, Target, VerifyReport, verify_files,
};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Log files are named on the command line as the active file (`PATH`); its rotated
/// siblings are found next to it.
const PATHS_HELP: &str = "Each PATH that is an active log file with rotated siblings \
(PATH.000001, PATH.000002, ...) stands for all of them: the rotated files oldest first, \
then PATH itself. A file named twice (say PATH.000001 and then PATH) is read once.";

/// Tools for zt audit logs (JSON lines, SHA-256 hash-chained).
#[derive(Debug, Parser)]
#[command(name = "audit", version, after_help = PATHS_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify a log as one hash chain: every line's own hash, every link, the sequence.
    ///
    /// Prints the files checked, the events verified, the last sequence number, and
    /// whether the log is sealed (the writer shut down cleanly). A missing seal (the
    /// writer was killed, or the end of the log was cut off) and a torn last line (the
    /// writer was killed mid-write) are warnings. The first problem (an edited line, a
    /// deleted, inserted or reordered line, a sequence gap, missing earlier files, a torn
    /// line in the middle) is an error, reported as FILE:LINE: MESSAGE; nothing after it
    /// is checked.
    ///
    /// Exit status: 0 intact, 1 a problem was found, 2 the log could not be read (or the
    /// command line is wrong).
    #[command(after_help = PATHS_HELP)]
    Verify(VerifyArgs),
    /// Print the newest events of a log, oldest first.
    #[command(after_help = PATHS_HELP)]
    Tail(TailArgs),
    /// Print the events of a log that match every filter given.
    ///
    /// Lines that are not audit events are skipped and counted on stderr. grep does not
    /// check the hash chain; use `verify` for that.
    #[command(after_help = PATHS_HELP)]
    Grep(GrepArgs),
    /// Write a log of sample events through the real pipeline (Auditor + FileSink), to
    /// try the other commands on.
    ///
    /// Writes N events cycling through every kind an application records (http.request,
    /// kube.request, ssh.session, ssh.exec, login, logout, policy.reload, token.rejected),
    /// allowed and denied, with actors, sources and targets. Halfway through, the demo
    /// stops its writer without sealing the log and leaves half a line behind, as a
    /// writer killed mid-write would; a second writer then resumes the log, discards the
    /// torn bytes and records `audit.recovered`. It ends with a clean shutdown, which
    /// records `audit.sealed`. Refuses to write to an existing log.
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// Log files, oldest first.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
    /// Print a JSON report instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct TailArgs {
    /// How many events to print.
    #[arg(short = 'n', long = "lines", value_name = "N", default_value_t = 10)]
    lines: usize,
    /// Print the raw JSON lines instead of summaries.
    #[arg(long)]
    json: bool,
    /// The log file.
    #[arg(value_name = "PATH")]
    path: PathBuf,
}

#[derive(Debug, Args)]
struct GrepArgs {
    /// Log files, oldest first.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
    /// Only events whose actor has this subject or e-mail address (exact match).
    #[arg(long, value_name = "SUB|EMAIL")]
    actor: Option<String>,
    /// Only events of this kind, by its JSON name (e.g. http.request, ssh.exec, login).
    #[arg(long, value_name = "KIND", value_parser = parse_kind)]
    kind: Option<EventKind>,
    /// Only events with a decision of this effect.
    #[arg(long, value_enum)]
    effect: Option<EffectArg>,
    /// Only events at or after this instant (RFC 3339, e.g. 2025-06-01T12:00:00Z).
    #[arg(long, value_name = "RFC3339")]
    since: Option<Timestamp>,
    /// Only events before this instant (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    until: Option<Timestamp>,
    /// Print the raw JSON lines instead of summaries.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// The log file to create.
    #[arg(value_name = "PATH")]
    path: PathBuf,
    /// How many sample events to write (besides audit.recovered and audit.sealed).
    #[arg(long, value_name = "N", default_value_t = 20)]
    events: usize,
    /// Rotate the active file when it would exceed this size (try 2000 to see rotation).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FILE_BYTES)]
    max_file_bytes: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum EffectArg {
    Allow,
    Deny,
}

impl From<EffectArg> for Effect {
    fn from(effect: EffectArg) -> Self {
        match effect {
            EffectArg::Allow => Effect::Allow,
            EffectArg::Deny => Effect::Deny,
        }
    }
}

fn parse_kind(name: &str) -> std::result::Result<EventKind, String> {
    name.parse()
        .map_err(|e: zt_core::audit::UnknownEventKind| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify(args) => verify(&args),
        Command::Tail(args) => tail(&args),
        Command::Grep(args) => grep(&args),
        Command::Demo(args) => demo(&args),
    };
    match result {
        Ok(code) => code,
        // `audit tail log | head -1`: the reader left; that is not an error.
        Err(error)
            if error
                .downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Files and lines

/// Expands each path to its rotated siblings and itself (see [`PATHS_HELP`]).
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    for path in paths {
        let expanded = log_files(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if expanded.is_empty() {
            return Err(format!("{}: no such file", path.display()).into());
        }
        for file in expanded {
            let key = fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
            if seen.insert(key) {
                files.push(file);
            }
        }
    }
    Ok(files)
}

/// [`FileSink::files`], with rotated files named like the active one (`log.000001`, not
/// `./log.000001`, for a bare `log`).
fn log_files(path: &Path) -> io::Result<Vec<PathBuf>> {
    let bare = path.parent().is_some_and(|dir| dir.as_os_str().is_empty());
    Ok(FileSink::files(path)?
        .into_iter()
        .map(|file| match file.strip_prefix(".") {
            Ok(name) if bare => name.to_owned(),
            _ => file,
        })
        .collect())
}

/// One complete line of a log file.
struct Line {
    file: String,
    number: usize,
    text: String,
}

/// What reading lines skipped, reported on stderr.
#[derive(Default)]
struct Skipped {
    unparsable: u64,
    first_unparsable: Option<String>,
    torn: Vec<String>,
}

impl Skipped {
    fn unparsable(&mut self, line: &Line, why: &dyn std::fmt::Display) {
        self.unparsable += 1;
        if self.first_unparsable.is_none() {
            self.first_unparsable = Some(format!("{}:{}: {why}", line.file, line.number));
        }
    }

    fn report(&self) {
        for at in &self.torn {
            eprintln!(
                "note: {at}: torn line (cut short, no newline: the writer was killed mid-write); skipped"
            );
        }
        if let Some(first) = &self.first_unparsable {
            eprintln!(
                "warning: skipped {} line(s) that are not audit events; the first: {first}",
                self.unparsable
            );
        }
    }
}

/// Calls `each` with every complete line of `files`, in order. Lines without a newline
/// (a torn end of file) are noted in `skipped`.
fn for_each_line(
    files: &[PathBuf],
    skipped: &mut Skipped,
    mut each: impl FnMut(Line, &mut Skipped) -> Result<()>,
) -> Result<()> {
    for path in files {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| format!("{name}: {e}"))?;
        let mut reader = BufReader::new(file);
        let mut buffer = Vec::new();
        let mut number = 0;
        loop {
            buffer.clear();
            let read = reader
                .read_until(b'\n', &mut buffer)
                .map_err(|e| format!("{name}: {e}"))?;
            if read == 0 {
                break;
            }
            number += 1;
            let Some(bytes) = buffer.strip_suffix(b"\n") else {
                skipped.torn.push(format!("{name}:{number}"));
                continue;
            };
            let line = Line {
                file: name.clone(),
                number,
                text: String::from_utf8_lossy(bytes).into_owned(),
            };
            each(line, skipped)?;
        }
    }
    Ok(())
}

/// The sequence number of a line (not part of [`AuditEvent`]).
#[derive(Deserialize)]
struct Seq {
    seq: Option<u64>,
}

/// Parses a line into its event and sequence number.
fn parse(line: &Line) -> std::result::Result<(AuditEvent, Option<u64>), serde_json::Error> {
    let event: AuditEvent = serde_json::from_str(&line.text)?;
    let seq = serde_json::from_str::<Seq>(&line.text)?.seq;
    Ok((event, seq))
}

// ---------------------------------------------------------------------------------------
// verify

fn verify(args: &VerifyArgs) -> Result<ExitCode> {
    let files = expand(&args.paths)?;
    let report = verify_files(&files).map_err(|e| format!("reading the log: {e}"))?;
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &verify_json(&files, &report))?;
        writeln!(out)?;
    } else {
        write_verify_text(&mut out, &files, &report)?;
    }
    Ok(if report.is_intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn write_verify_text(out: &mut impl Write, files: &[PathBuf], report: &VerifyReport) -> Result<()> {
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    writeln!(out, "files checked: {} ({})", files.len(), names.join(", "))?;
    let last = report
        .last_seq
        .map_or_else(|| "-".to_owned(), |seq| seq.to_string());
    writeln!(out, "events verified: {}, last seq: {last}", report.events)?;
    if let Some(problem) = &report.problem {
        writeln!(out, "error: {problem}")?;
        writeln!(
            out,
            "FAILED: the log is not intact; nothing after the problem was checked"
        )?;
        return Ok(());
    }
    if report.sealed {
        writeln!(out, "sealed: yes (the writer shut down cleanly)")?;
    } else {
        writeln!(
            out,
            "warning: not sealed: the writer is still running, was killed, or the end of the log was cut off"
        )?;
    }
    if let Some(at) = &report.torn_tail {
        writeln!(
            out,
            "warning: {at}: torn last line (cut short: the writer was killed mid-write; a restarted writer discards it)"
        )?;
    }
    writeln!(out, "OK: the chain is intact")?;
    Ok(())
}

fn verify_json(files: &[PathBuf], report: &VerifyReport) -> Value {
    json!({
        "intact": report.is_intact(),
        "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        "events": report.events,
        "last_seq": report.last_seq,
        "sealed": report.sealed,
        "torn_tail": report.torn_tail.as_ref().map(|at| json!({"file": at.file, "line": at.line})),
        "problem": report.problem.as_ref().map(|p| json!({
            "file": p.at.file,
            "line": p.at.line,
            "kind": p.kind.code(),
            "message": p.kind.to_string(),
        })),
    })
}

// ---------------------------------------------------------------------------------------
// tail and grep

fn tail(args: &TailArgs) -> Result<ExitCode> {
    let files = expand(std::slice::from_ref(&args.path))?;
    let mut skipped = Skipped::default();
    let mut last: VecDeque<Line> = VecDeque::with_capacity(args.lines.saturating_add(1));
    // Newest files first, stopping once enough lines are found.
    for file in files.iter().rev() {
        let mut lines = VecDeque::new();
        for_each_line(std::slice::from_ref(file), &mut skipped, |line, _| {
            lines.push_back(line);
            if lines.len() > args.lines {
                lines.pop_front();
            }
            Ok(())
        })?;
        while last.len() < args.lines {
            let Some(line) = lines.pop_back() else { break };
            last.push_front(line);
        }
        if last.len() >= args.lines {
            break;
        }
    }
    let mut out = io::stdout().lock();
    for line in last {
        print_line(&mut out, &line, args.json, &mut skipped)?;
    }
    skipped.report();
    Ok(ExitCode::SUCCESS)
}

fn grep(args: &GrepArgs) -> Result<ExitCode> {
    let files = expand(&args.paths)?;
    let effect = args.effect.map(Effect::from);
    let mut out = io::stdout().lock();
    let mut skipped = Skipped::default();
    for_each_line(&files, &mut skipped, |line, skipped| {
        let (event, _) = match parse(&line) {
            Ok(parsed) => parsed,
            Err(error) => {
                skipped.unparsable(&line, &error);
                return Ok(());
            }
        };
        let actor_matches = args.actor.as_deref().is_none_or(|wanted| {
            event.actor.as_ref().is_some_and(|actor| {
                actor.subject.as_deref() == Some(wanted) || actor.email.as_deref() == Some(wanted)
            })
        });
        let matches = actor_matches
            && args.kind.is_none_or(|kind| event.kind == kind)
            && effect
                .is_none_or(|effect| event.decision.as_ref().is_some_and(|d| d.effect == effect))
            && args.since.is_none_or(|since| event.time >= since)
            && args.until.is_none_or(|until| event.time < until);
        if matches {
            print_line(&mut out, &line, args.json, skipped)?;
        }
        Ok(())
    })?;
    skipped.report();
    Ok(ExitCode::SUCCESS)
}

fn print_line(out: &mut impl Write, line: &Line, raw: bool, skipped: &mut Skipped) -> Result<()> {
    if raw {
        writeln!(out, "{}", line.text)?;
        return Ok(());
    }
    match parse(line) {
        Ok((event, seq)) => writeln!(out, "{}", summary(&event, seq))?,
        Err(error) => skipped.unparsable(line, &error),
    }
    Ok(())
}

/// One line: time, seq, kind, effect, actor, target, rules/reason, request id, latency,
/// other fields.
fn summary(event: &AuditEvent, seq: Option<u64>) -> String {
    let seq = seq.map_or_else(|| "-".to_owned(), |seq| format!("#{seq}"));
    let effect = match event.decision.as_ref().map(|d| d.effect) {
        Some(Effect::Allow) => "allow",
        Some(Effect::Deny) => "deny",
        None => "-",
    };
    let mut text = format!(
        "{:.3} {seq:>5} {:<15} {effect:<5} {}",
        event.time,
        event.kind.as_str(),
        actor_text(event.actor.as_ref()),
    );
    if let Some(target) = &event.target {
        text.push_str("  ");
        text.push_str(&target_text(target));
    }
    if let Some(decision) = &event.decision {
        if !decision.rules.is_empty() {
            text.push_str(&format!("  rules={}", decision.rules.join(",")));
        }
        if let Some(reason) = &decision.reason {
            text.push_str(&format!("  reason={reason:?}"));
        }
    }
    if let Some(id) = &event.request_id {
        text.push_str(&format!("  req={id}"));
    }
    if let Some(latency) = event.latency {
        text.push_str(&format!("  {}us", latency.as_micros()));
    }
    if !event.fields.is_empty() {
        text.push_str(&format!("  {}", Value::Object(event.fields.clone())));
    }
    text
}

fn actor_text(actor: Option<&Actor>) -> String {
    let Some(actor) = actor else {
        return "-".to_owned();
    };
    let name = actor.subject.as_deref().or(actor.spiffe_id.as_deref());
    match (name, actor.email.as_deref()) {
        (Some(name), Some(email)) => format!("{name} <{email}>"),
        (Some(name), None) => name.to_owned(),
        (None, Some(email)) => format!("<{email}>"),
        (None, None) => "-".to_owned(),
    }
}

fn target_text(target: &Target) -> String {
    match target {
        Target::Http { method, host, path } => format!("{method} {host}{path}"),
        Target::Kube {
            verb,
            api_group,
            resource,
            subresource,
            namespace,
            name,
        } => {
            let mut text = format!("kube {verb} ");
            if !api_group.is_empty() {
                text.push_str(&format!("{api_group}/"));
            }
            text.push_str(resource);
            if let Some(sub) = subresource {
                text.push_str(&format!("/{sub}"));
            }
            if let Some(name) = name {
                text.push_str(&format!(" {name}"));
            }
            if let Some(namespace) = namespace {
                text.push_str(&format!(" -n {namespace}"));
            }
            text
        }
        Target::Ssh {
            login,
            host,
            port,
            command,
        } => match command {
            Some(command) => format!("ssh {login}@{host}:{port} exec {command:?}"),
            None => format!("ssh {login}@{host}:{port}"),
        },
        other => format!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// demo

#[tokio::main(flavor = "current_thread")]
async fn demo(args: &DemoArgs) -> Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "zt_core=warn".into()),
        )
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .init();
    let path = &args.path;
    let existing = log_files(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !existing.is_empty() {
        return Err(format!(
            "{}: the log already exists; demo only writes new logs",
            path.display()
        )
        .into());
    }
    let open = || -> Result<FileSink> {
        Ok(FileSink::open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .max_file_bytes(args.max_file_bytes))
    };
    let first_half = args.events / 2;

    // The first writer: records half the events, then stops without sealing the log.
    let auditor = Auditor::builder(open()?)
        .overflow(OverflowPolicy::Block)
        .start()?;
    for index in 0..first_half {
        auditor.record(sample(index)).await?;
    }
    auditor.flush().await?;
    drop(auditor);

    // ... and leaves the first half of its next line behind, as if killed mid-write.
    let next = serde_json::to_string(&sample(first_half))?;
    let torn = format!(
        "{{\"v\":1,\"seq\":{},{}",
        first_half + 1,
        next.get(1..next.len() / 2).unwrap_or_default()
    );
    OpenOptions::new()
        .append(true)
        .open(path)?
        .write_all(torn.as_bytes())?;

    // The second writer resumes the chain: it discards the torn bytes and records
    // `audit.recovered`, then the rest of the events, then `audit.sealed`.
    let auditor = Auditor::builder(open()?)
        .overflow(OverflowPolicy::Block)
        .start()?;
    for index in first_half..args.events {
        auditor.record(sample(index)).await?;
    }
    let stats = auditor.shutdown().await?;

    let files = log_files(path)?;
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "wrote {} sample events to {}, plus audit.recovered and audit.sealed",
        args.events,
        names.join(", ")
    )?;
    writeln!(
        out,
        "after {first_half} events the first writer stopped without sealing and left {} bytes of a torn line; \
         the second writer discarded them and recorded audit.recovered",
        torn.len()
    )?;
    writeln!(
        out,
        "second writer: queued {}, written {}, durable {}, failed {}",
        stats.queued, stats.written, stats.durable, stats.failed
    )?;
    let shown = path.display();
    writeln!(out, "try:")?;
    for command in [
        format!("verify {shown}"),
        format!("tail -n 5 {shown}"),
        format!("grep {shown} --effect deny"),
        format!("grep {shown} --actor alice@example.com --kind http.request"),
    ] {
        writeln!(out, "  cargo run --example audit -- {command}")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn actor(subject: &str, email: Option<&str>, groups: &[&str]) -> Actor {
    let mut actor = Actor::default();
    actor.subject = Some(subject.to_owned());
    actor.email = email.map(str::to_owned);
    actor.groups = groups.iter().map(|g| (*g).to_owned()).collect();
    actor.issuer = Some("https://sso.example.com".to_owned());
    actor
}

fn http_source(ip: IpAddr) -> Source {
    let mut source = Source::default();
    source.ip = Some(ip);
    source.user_agent = Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0".to_owned());
    source
}

fn deny(reason: &str, rules: &[&str]) -> Decision {
    let mut decision = Decision::deny(reason);
    decision.rules = rules.iter().map(|r| (*r).to_owned()).collect();
    decision
}

/// The `index`th sample event: every application event kind in turn, allowed and denied.
fn sample(index: usize) -> AuditEvent {
    let request = format!("req-{:04}", index + 1);
    let latency = Duration::from_micros(180 + (index as u64 * 37) % 900);
    let alice = || {
        let mut alice = actor("alice", Some("alice@example.com"), &["engineering"]);
        alice.session_id = Some("sess-7f3a".to_owned());
        alice
    };
    let office = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
    match index % 10 {
        0 => AuditEvent::new(EventKind::HttpRequest)
            .actor(alice())
            .source(http_source(office))
            .target(Target::Http {
                method: "GET".into(),
                host: "grafana.example.com".into(),
                path: "/d/payments".into(),
            })
            .decision(Decision::allow(["eng-dashboards-read"]))
            .latency(latency)
            .request_id(request),
        1 => AuditEvent::new(EventKind::KubeRequest)
            .actor(actor("sally", Some("sally@example.com"), &["sre"]))
            .source(http_source(IpAddr::V6(Ipv6Addr::new(
                0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x42,
            ))))
            .target(Target::Kube {
                verb: "get".into(),
                api_group: String::new(),
                resource: "pods".into(),
                subresource: Some("log".into()),
                namespace: Some("payments".into()),
                name: Some("api-7d9c".into()),
            })
            .decision(Decision::allow(["INC-4711"]))
            .latency(latency)
            .request_id(request),
        2 => {
            let mut source = Source::default();
            source.ip = Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 23)));
            source.ssh_client = Some("SSH-2.0-OpenSSH_9.6".to_owned());
            AuditEvent::new(EventKind::SshSession)
                .actor(actor("bob", Some("bob@example.com"), &["ops"]))
                .source(source)
                .target(Target::Ssh {
                    login: "deploy".into(),
                    host: "web-1.prod.internal".into(),
                    port: 22,
                    command: None,
                })
                .decision(Decision::allow(["ops-ssh"]))
                .latency(latency)
                .request_id(request)
        }
        3 => AuditEvent::new(EventKind::SshExec)
            .actor(actor("bob", Some("bob@example.com"), &["ops"]))
            .target(Target::Ssh {
                login: "deploy".into(),
                host: "db-1.prod.internal".into(),
                port: 22,
                command: Some("pg_dump payments".into()),
            })
            .decision(deny("no allow rule matched", &[]))
            .latency(latency)
            .request_id(request),
        4 => AuditEvent::new(EventKind::Login)
            .actor(alice())
            .source(http_source(office))
            .decision(Decision::allow(["sso"]))
            .field("method", "oidc"),
        5 => AuditEvent::new(EventKind::Logout)
            .actor(alice())
            .source(http_source(office))
            .field("initiator", "user"),
        6 => AuditEvent::new(EventKind::PolicyReload)
            .field("policy", "/etc/zt/policy.zt")
            .field("rules", 4)
            .field(
                "sha256",
                "9f2c1e0b7a4d3c2b1a0f9e8d7c6b5a49382716051f2e3d4c5b6a798877665544",
            ),
        7 => AuditEvent::new(EventKind::TokenRejected)
            .source(http_source(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 99))))
            .target(Target::Http {
                method: "GET".into(),
                host: "api.example.com".into(),
                path: "/v1/orders".into(),
            })
            .decision(Decision::deny("token expired"))
            .request_id(request)
            .field("issuer", "https://sso.example.com"),
        8 => AuditEvent::new(EventKind::HttpRequest)
            .actor(actor("dave", Some("dave@example.com"), &["sales"]))
            .source(http_source(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 54))))
            .target(Target::Http {
                method: "POST".into(),
                host: "grafana.example.com".into(),
                path: "/admin/users".into(),
            })
            .decision(deny("the admin area is for admins", &["admin-area"]))
            .latency(latency)
            .request_id(request),
        _ => {
            let mut workload = Actor::default();
            workload.subject = Some("spiffe://example.org/ns/ci/sa/deployer".to_owned());
            workload.spiffe_id = workload.subject.clone();
            workload.issuer = Some("spiffe://example.org".to_owned());
            AuditEvent::new(EventKind::KubeRequest)
                .actor(workload)
                .target(Target::Kube {
                    verb: "patch".into(),
                    api_group: "apps".into(),
                    resource: "deployments".into(),
                    subresource: None,
                    namespace: Some("payments".into()),
                    name: Some("api".into()),
                })
                .decision(Decision::allow(["ci-deploy"]))
                .latency(latency)
                .request_id(request)
        }
    }
}
