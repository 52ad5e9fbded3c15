//! Every decision table of docs/policy.md section 11 is a test: each row is turned into
//! a request document (section 12.2, with the table conventions of section 11) and
//! decided by the compiled policy above it; effect, rules and reason must match.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod reference;

use reference::doc;
use serde_json::{Map, Value, json};
use zt_core::policy::{Effect, Engine, RequestFixture};

const DEFAULT_NOW: &str = "2026-11-23T12:00:00Z";

/// One worked example: section title, policy source, header cells, rows of cells.
type Example = (String, String, Vec<String>, Vec<Vec<String>>);

fn examples(doc: &str) -> Vec<Example> {
    let section = &doc[doc.find("## 11. Worked examples").unwrap()..doc.find("## 12.").unwrap()];
    section
        .split("\n### ")
        .skip(1)
        .map(|part| {
            let title = part.lines().next().unwrap().to_owned();
            let source = part
                .split("```zt\n")
                .nth(1)
                .unwrap()
                .split("```")
                .next()
                .unwrap();
            let table: Vec<Vec<String>> = part
                .lines()
                .filter(|line| line.starts_with('|'))
                .map(cells)
                .collect();
            let header = table[0].clone();
            (title, source.to_owned(), header, table[2..].to_vec())
        })
        .collect()
}

/// Splits a table row at `|`, keeping `|` inside backticks or JSON strings.
fn cells(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut current = String::new();
    let (mut in_code, mut in_string) = (false, false);
    for c in line.trim().trim_start_matches('|').chars() {
        match c {
            '`' if !in_string => in_code = !in_code,
            '"' if !in_code => in_string = !in_string,
            '|' if !in_code && !in_string => {
                cells.push(current.trim().to_owned());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    cells
}

/// The request document a row stands for (section 11's table convention).
fn document(header: &[String], row: &[String]) -> Value {
    let mut root = Map::new();
    root.insert("now".into(), json!(DEFAULT_NOW));
    let mut identity = Map::new();
    let mut request = Map::new();
    let mut kube = Map::new();
    let mut ssh = Map::new();
    for (column, cell) in header.iter().zip(row) {
        if cell.is_empty() || ["note", "effect", "rules", "reason"].contains(&column.as_str()) {
            continue;
        }
        let value: Value =
            serde_json::from_str(cell).unwrap_or_else(|e| panic!("cell {column} = {cell}: {e}"));
        let (family, member) = column.split_once('.').unwrap_or(("", column));
        let target = match family {
            "" => &mut root,
            "identity" => &mut identity,
            "request" => &mut request,
            "kube" => &mut kube,
            "ssh" => &mut ssh,
            other => panic!("unknown column family {other}"),
        };
        target.insert(member.to_owned(), value);
    }
    for (name, members) in [
        ("identity", identity),
        ("request", request),
        ("kube", kube),
        ("ssh", ssh),
    ] {
        if !members.is_empty() {
            root.insert(name.to_owned(), Value::Object(members));
        }
    }
    Value::Object(root)
}

#[test]
fn every_row_of_every_worked_example_decides_as_documented() {
    let doc = doc();
    let examples = examples(&doc);
    assert_eq!(examples.len(), 6, "the six worked examples of section 11");
    let mut rows = 0;
    for (title, source, header, table) in examples {
        let engine = Engine::from_source(&source)
            .unwrap_or_else(|e| panic!("{title}: {}", e.render("doc.zt", &source)));
        let column = |name: &str| header.iter().position(|h| h == name);
        for row in table {
            rows += 1;
            let note = column("note").map_or("", |i| row[i].as_str());
            let fixture = RequestFixture::from_json(&document(&header, &row), None)
                .unwrap_or_else(|e| panic!("{title} / {note}: {e}"));
            let decision = engine.decide(&fixture.context());
            let place = format!("{title} / {note}");
            let effect = match row[column("effect").unwrap()].as_str() {
                "allow" => Effect::Allow,
                "deny" => Effect::Deny,
                other => panic!("{place}: effect {other}"),
            };
            assert_eq!(decision.effect(), effect, "{place}");
            let rules: Vec<String> = serde_json::from_str(&row[column("rules").unwrap()]).unwrap();
            assert_eq!(decision.rules().collect::<Vec<_>>(), rules, "{place}");
            if let Some(reason) = column("reason").map(|i| &row[i]).filter(|r| !r.is_empty()) {
                let reason: String = serde_json::from_str(reason).unwrap();
                assert_eq!(decision.reason().unwrap().to_string(), reason, "{place}");
            }
            // The traced decision (every rule, no index) agrees.
            let (traced, trace) = engine.decide_traced(&fixture.context());
            assert_eq!(traced.effect(), effect, "{place}");
            let matched: Vec<&str> = trace
                .iter()
                .filter(|entry| entry.effect == effect && entry.result.as_str() == "match")
                .map(|entry| entry.id)
                .collect();
            assert_eq!(matched, rules, "{place}: trace");
        }
    }
    assert!(rows >= 60, "only {rows} rows found");
}
