//! `kverify components`: what the catalog knows, and from which version.

use std::io::{self, Write};
use std::path::PathBuf;

use crate::catalog::{Catalog, ComponentInfo};
use crate::plan::Output;
use crate::report::{escape, ExitStatus, NoSummary, Record, Reporter, Status};
use crate::version::Range;
use crate::Error;

pub fn run(catalogs: &[PathBuf], output: Output) -> Result<ExitStatus, Error> {
    let catalog = Catalog::load(catalogs)?;
    let mut reporter = Reporter::new(output.format);
    for c in catalog.components() {
        reporter.record(&Row(c));
    }
    Ok(reporter.finish("components"))
}

/// One component, as a report record.
struct Row(ComponentInfo);

impl serde::Serialize for Row {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        json(&self.0).serialize(s)
    }
}

impl Record for Row {
    type Tally = NoSummary;

    fn status(&self) -> Status {
        Status::Ok
    }

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(text(&self.0).as_bytes())
    }
}

/// ```text
/// crictl                   cri-tools    CRI command-line client
///     platforms  linux/amd64 linux/arm (before v1.29.0) linux/riscv64 (from v1.27.0)
///     checksums  {url}.sha256 (from v1.21.0), {url}.sha512 (from v1.23.0)
///     signature  none published
/// ```
fn text(c: &ComponentInfo) -> String {
    // A `--catalog` file is configuration, yet what it says is shown escaped like all text.
    let mut out = format!("{:<24} {:<12} {}\n", escape(&c.name), escape(&c.upstream), escape(&c.description));
    if !c.versions.is_always() {
        out.push_str(&format!("    versions   {}\n", escape(&c.versions.to_string())));
    }
    let platforms: Vec<String> = c.platforms.iter().map(ToString::to_string).collect();
    out.push_str(&format!("    platforms  {}\n", escape(&platforms.join(" "))));
    let checksums: Vec<String> = c.checksums.iter().map(|s| ranged(&s.value.0, &s.range)).collect();
    out.push_str(&format!("    checksums  {}\n", escape(&checksums.join(", "))));
    let signature = match &c.signature {
        Some((kind, since)) => format!("{} from {since}", kind.name()),
        None => "none published".into(),
    };
    out.push_str(&format!("    signature  {}\n", escape(&signature)));
    out
}

fn ranged(value: &str, range: &Range) -> String {
    if range.is_always() {
        value.to_string()
    } else {
        format!("{value} ({range})")
    }
}

/// One object per component: `platforms` lists every platform ever published,
/// `published` says from and until which version each is.
fn json(c: &ComponentInfo) -> serde_json::Value {
    let range = |r: &Range| {
        serde_json::json!({
            "since": r.since.as_ref().map(ToString::to_string),
            "until": r.until.as_ref().map(ToString::to_string),
        })
    };
    let published: Vec<serde_json::Value> = c
        .platforms
        .iter()
        .map(|p| {
            let mut row = range(&p.range);
            row["platform"] = p.value.to_string().into();
            row
        })
        .collect();
    let checksums: Vec<serde_json::Value> = c
        .checksums
        .iter()
        .map(|s| {
            let mut row = range(&s.range);
            row["url"] = s.value.0.clone().into();
            row
        })
        .collect();
    serde_json::json!({
        "component": c.name,
        "upstream": c.upstream,
        "description": c.description,
        "versions": range(&c.versions),
        "platforms": c.platforms.iter().map(|p| p.value.to_string()).collect::<Vec<_>>(),
        "published": published,
        "checksums": checksums,
        "signature": c.signature.as_ref().map(|(kind, since)| serde_json::json!({
            "kind": kind.name(), "since": since.to_string(),
        })),
    })
}
