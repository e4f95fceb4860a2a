//! What `kverify trust update` and `kverify trust show` print: records for the one
//! reporting path, as text or one JSON object.

use std::io::{self, Write};

use jiff::Timestamp;
use serde::Serialize;

use crate::report::{write_line, NoSummary, Record, Status};

use super::{age, material_of, CacheStatus, ChangeKind, Loaded, Material, TrustConfig, UpdateReport};

/// An update that verified and is now in the cache.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Updated {
    pub report: UpdateReport,
    #[serde(skip)]
    pub now: Timestamp,
}

impl Record for Updated {
    type Tally = NoSummary;

    fn status(&self) -> Status {
        Status::Ok
    }

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        write_update(out, &self.report, self.now)
    }
}

/// The trust in effect, as `trust show` reports it.
pub struct Shown<'a> {
    pub config: &'a TrustConfig,
    pub loaded: &'a Loaded,
    pub now: Timestamp,
}

impl Serialize for Shown<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        show_json(self.config, self.loaded, self.now).serialize(s)
    }
}

impl Record for Shown<'_> {
    type Tally = NoSummary;

    fn status(&self) -> Status {
        Status::Ok
    }

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        write_show(out, self.config, self.loaded, self.now)
    }
}

fn write_update(out: &mut dyn Write, report: &UpdateReport, now: Timestamp) -> io::Result<()> {
    let unchanged = report.old.sha256 == report.new.sha256 && report.old.versions == report.new.versions;
    let as_of = report.as_of.map(|t| format!(", expiry judged as of {t}")).unwrap_or_default();
    if unchanged {
        write_line(out, format_args!("trust is up to date: {} ({}{as_of})", report.url, report.dir.display()))?;
    } else {
        write_line(out, format_args!("trust updated from {} into {}{as_of}", report.url, report.dir.display()))?;
    }
    let old_label = if report.old.source == "built-in" { " (built-in; no cache before)" } else { "" };
    write_line(out, format_args!("  trusted_root.json  sha256:{}{old_label}", report.old.sha256))?;
    write_line(out, format_args!("                  →  sha256:{}", report.new.sha256))?;
    if let Some(new) = report.new.versions {
        let roles =
            [("root", new.root), ("timestamp", new.timestamp), ("snapshot", new.snapshot), ("targets", new.targets)];
        for (i, (role, version)) in roles.into_iter().enumerate() {
            let before = report.old.versions.map(|v| [v.root, v.timestamp, v.snapshot, v.targets][i]);
            let before = before.map_or("-".to_string(), |v| format!("v{v}"));
            let expires = report.new.timestamp_expires.filter(|_| role == "timestamp");
            let expires = expires.map(|t| format!("   expires {t} ({})", relative(now, t))).unwrap_or_default();
            write_line(out, format_args!("  {role:<10} {before} → v{version}{expires}"))?;
        }
    }
    if report.changes.is_empty() {
        write_line(out, format_args!("  no CA, CT log, tlog or TSA added, removed or ended"))?;
    }
    for change in &report.changes {
        let sign = match change.change {
            ChangeKind::Added => "+ added",
            ChangeKind::Removed => "- removed",
            ChangeKind::Ended => "~ ended",
        };
        write_line(out, format_args!("  {sign:<9} {}", material_line(&change.material)))?;
    }
    Ok(())
}

fn write_show(out: &mut dyn Write, config: &TrustConfig, loaded: &Loaded, now: Timestamp) -> io::Result<()> {
    write_line(out, format_args!("in effect  {}", loaded.source))?;
    write_line(out, format_args!("           because {}", loaded.reason))?;
    write_line(out, format_args!("sha256     {}", loaded.sha256_hex()))?;
    let pin = config.tuf_root.as_ref().map_or("built in".to_string(), |p| p.display().to_string());
    let url = config.tuf_url.as_deref().unwrap_or("off");
    write_line(
        out,
        format_args!("tuf        {url} (pinned root: {pin}{})", if config.offline { "; offline" } else { "" }),
    )?;
    match &loaded.cache {
        CacheStatus::Unused => write_line(out, format_args!("cache      not read: --trusted-root comes first"))?,
        CacheStatus::NoDir => write_line(out, format_args!("cache      none: no directory (set KVERIFY_TRUST_DIR)"))?,
        CacheStatus::Missing => {
            let dir = config.dir.as_deref().map(|d| d.display().to_string()).unwrap_or_default();
            write_line(out, format_args!("cache      none yet in {dir}: run `kverify trust update`"))?
        }
        CacheStatus::Invalid(why) => write_line(out, format_args!("cache      ignored, it does not verify: {why}"))?,
        CacheStatus::Verified(info) => {
            write_line(out, format_args!("cache      {}", info.dir.display()))?;
            if let Some(state) = &info.updated {
                let age = state.updated_at.parse::<Timestamp>().map(|t| format!(" ({} ago)", age(now, t)));
                let as_of = state.as_of.as_ref().map(|t| format!(", expiry judged as of {t}")).unwrap_or_default();
                write_line(
                    out,
                    format_args!(
                        "updated    {}{} from {}{as_of}",
                        state.updated_at,
                        age.unwrap_or_default(),
                        state.url
                    ),
                )?;
            }
            let v = info.versions;
            write_line(
                out,
                format_args!(
                    "versions   root v{}, timestamp v{}, snapshot v{}, targets v{}",
                    v.root, v.timestamp, v.snapshot, v.targets
                ),
            )?;
            write_line(
                out,
                format_args!(
                    "timestamp  expires {} ({})",
                    info.timestamp_expires,
                    relative(now, info.timestamp_expires)
                ),
            )?;
            if info.expires < info.timestamp_expires || info.is_stale(now) {
                write_line(out, format_args!("stale      from {} ({})", info.expires, relative(now, info.expires)))?;
            }
            if info.sha256 != loaded.sha256 {
                write_line(out, format_args!("cached     sha256 {} (not in effect)", hex::encode(info.sha256)))?;
            }
        }
    }
    write_line(out, format_args!("trusts"))?;
    for material in material_of(&loaded.root) {
        write_line(out, format_args!("  {}", material_line(&material)))?;
    }
    Ok(())
}

fn show_json(config: &TrustConfig, loaded: &Loaded, now: Timestamp) -> serde_json::Value {
    let cache = match &loaded.cache {
        CacheStatus::Unused => serde_json::json!({"status": "unused"}),
        CacheStatus::NoDir => serde_json::json!({"status": "no-dir"}),
        CacheStatus::Missing => serde_json::json!({"status": "missing"}),
        CacheStatus::Invalid(why) => serde_json::json!({"status": "invalid", "error": why}),
        CacheStatus::Verified(info) => serde_json::json!({
            "status": "verified",
            "dir": info.dir,
            "sha256": hex::encode(info.sha256),
            "versions": info.versions,
            "timestamp_expires": info.timestamp_expires.to_string(),
            "expires": info.expires.to_string(),
            "stale": info.is_stale(now),
            "updated_at": info.updated.as_ref().map(|s| s.updated_at.clone()),
            "age_seconds": info.updated.as_ref()
                .and_then(|s| s.updated_at.parse::<Timestamp>().ok())
                .map(|t| now.as_second() - t.as_second()),
            "url": info.updated.as_ref().map(|s| s.url.clone()),
            "as_of": info.updated.as_ref().and_then(|s| s.as_of.clone()),
        }),
    };
    serde_json::json!({
        "source": loaded.source.kind(),
        "path": loaded.source.path(),
        "reason": loaded.reason,
        "sha256": loaded.sha256_hex(),
        "trust_dir": config.dir,
        "tuf_url": config.tuf_url,
        "tuf_root": config.tuf_root,
        "offline": config.offline,
        "cache": cache,
        "material": material_of(&loaded.root),
        "warnings": loaded.warnings,
    })
}

/// `CT log  https://ctfe.sigstore.dev/2022  id …  2022-10-20T00:00:00Z → (open)`.
fn material_line(m: &Material) -> String {
    let subject = m.subject.as_ref().map(|s| format!("  {s}")).unwrap_or_default();
    let id = if m.id.len() > 16 { format!("{}…", &m.id[..16]) } else { m.id.clone() };
    format!("{:<6}  {}{subject}  id {id}  {}", m.kind.label(), m.uri, m.window())
}

/// `in 6 d` or `3 h ago`.
fn relative(now: Timestamp, t: Timestamp) -> String {
    if t >= now {
        format!("in {}", age(t, now))
    } else {
        format!("{} ago", age(now, t))
    }
}
