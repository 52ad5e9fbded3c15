//! `test` and `explain`: deciding request fixtures (docs/policy.md, section 12.2).

use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;

use serde_json::{Value, json};
use zt_core::policy::{
    Decision, Effect, Engine, Expectation, RequestFixture, RuleResult, parse_cases,
};

use crate::load::{Loaded, load_or_report};

/// A policy that loaded and compiled, or the exit code after reporting why not.
fn engine(path: &Path) -> Result<(Loaded, Engine), ExitCode> {
    let loaded = load_or_report(path).ok_or(ExitCode::from(2))?;
    if loaded.has_errors() {
        eprint!("{}", loaded.report(path));
        return Err(ExitCode::from(1));
    }
    match Engine::compile(&loaded.policy) {
        Ok(engine) => Ok((loaded, engine)),
        Err(error) => {
            eprintln!("error: {}: {error}", path.display());
            Err(ExitCode::from(1))
        }
    }
}

/// `test FILE --cases CASES`.
pub(crate) fn run_test(file: &Path, cases: &Path, json_output: bool) -> ExitCode {
    let (_, engine) = match engine(file) {
        Ok(compiled) => compiled,
        Err(code) => return code,
    };
    let text = match std::fs::read_to_string(cases) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("error: {}: {error}", cases.display());
            return ExitCode::from(2);
        }
    };
    let cases = match parse_cases(&text) {
        Ok(cases) => cases,
        Err(error) => {
            eprintln!("error: {}: {error}", cases.display());
            return ExitCode::from(1);
        }
    };
    let mut rows = Vec::new();
    for case in &cases {
        let decision = engine.decide(&case.request.context());
        rows.push((
            case.name.as_str(),
            describe_expectation(&case.expect),
            describe(&decision),
            case.expect.is_met_by(&decision),
            decision.to_json(),
        ));
    }
    let failed = rows.iter().filter(|row| !row.3).count();
    if json_output {
        let results: Vec<Value> = rows
            .iter()
            .zip(&cases)
            .map(|((name, _, _, ok, got), case)| {
                let expect = &case.expect;
                let mut expected = json!({"effect": effect_name(expect.effect)});
                if let Some(rules) = &expect.rules {
                    expected["rules"] = json!(rules);
                }
                if let Some(reason) = &expect.reason {
                    expected["reason"] = json!(reason);
                }
                json!({"case": name, "expected": expected, "got": got, "ok": ok})
            })
            .collect();
        outln!(
            "{}",
            json!({"passed": rows.len() - failed, "failed": failed, "cases": results})
        );
    } else {
        print_table(&rows);
        outln!("{} passed, {failed} failed", rows.len() - failed);
    }
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

type Row<'a> = (&'a str, String, String, bool, Value);

fn print_table(rows: &[Row<'_>]) {
    let width = |pick: fn(&Row<'_>) -> usize, title: &str| {
        rows.iter().map(pick).max().unwrap_or(0).max(title.len())
    };
    let name_width = width(|row| row.0.chars().count(), "case");
    let expected_width = width(|row| row.1.chars().count(), "expected");
    let got_width = width(|row| row.2.chars().count(), "got");
    outln!(
        "{:name_width$}  {:expected_width$}  {:got_width$}  result",
        "case",
        "expected",
        "got"
    );
    for (name, expected, got, ok, _) in rows {
        outln!(
            "{name:name_width$}  {expected:expected_width$}  {got:got_width$}  {}",
            if *ok { "ok" } else { "FAIL" }
        );
    }
}

fn describe(decision: &Decision<'_>) -> String {
    let rules: Vec<&str> = decision.rules().collect();
    let mut text = format!("{} {rules:?}", effect_name(decision.effect()));
    if let Some(reason) = decision.reason() {
        text.push_str(&format!(" ({reason})"));
    }
    text
}

fn describe_expectation(expect: &Expectation) -> String {
    let mut text = effect_name(expect.effect).to_owned();
    if let Some(rules) = &expect.rules {
        text.push_str(&format!(" {rules:?}"));
    }
    if let Some(reason) = &expect.reason {
        text.push_str(&format!(" ({reason})"));
    }
    text
}

fn effect_name(effect: Effect) -> &'static str {
    match effect {
        Effect::Allow => "allow",
        Effect::Deny => "deny",
    }
}

/// `explain FILE --request REQ`.
pub(crate) fn run_explain(file: &Path, request: &str, json_output: bool) -> ExitCode {
    let (loaded, engine) = match engine(file) {
        Ok(compiled) => compiled,
        Err(code) => return code,
    };
    let document = match read_request(request) {
        Ok(document) => document,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let fixture = match RequestFixture::from_json(&document, Some(jiff::Timestamp::now())) {
        Ok(fixture) => fixture,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(1);
        }
    };
    let (decision, trace) = engine.decide_traced(&fixture.context());
    let source = if loaded.is_json {
        ""
    } else {
        loaded.source.as_str()
    };
    if json_output {
        let mut object = decision.to_json();
        object["trace"] = trace.iter().map(|entry| entry.to_json(source)).collect();
        outln!("{object}");
        return ExitCode::SUCCESS;
    }
    outln!("{}", describe(&decision));
    outln!("decided at {}", fixture.now());
    for entry in &trace {
        let effect = effect_name(entry.effect);
        outln!("  {:<9} {effect:<5} {}", entry.result.as_str(), entry.id);
        if let (RuleResult::NoMatch, Some(failed)) = (entry.result, &entry.failed) {
            outln!(
                "            failed at {}: {}",
                failed.location(source),
                failed.condition
            );
            for (attribute, value) in &failed.values {
                let shown = if value.is_null() {
                    "absent".to_owned()
                } else {
                    value.to_string()
                };
                outln!("              {attribute} = {shown}");
            }
        }
    }
    ExitCode::SUCCESS
}

/// A request document from a file, `-` (stdin) or inline JSON.
fn read_request(argument: &str) -> Result<Value, String> {
    let text = if argument.trim_start().starts_with('{') {
        argument.to_owned()
    } else if argument == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("stdin: {e}"))?;
        text
    } else {
        std::fs::read_to_string(argument).map_err(|e| format!("{argument}: {e}"))?
    };
    serde_json::from_str(&text).map_err(|e| format!("request: {e}"))
}
