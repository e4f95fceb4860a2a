//! `kverify cache dir` and `kverify cache clean [--older-than DAYS]`: where the download
//! cache is, and emptying it (the trust cache inside it is left to `kverify trust`).

use crate::cache::{Cache, CacheError};
use crate::plan::{CacheAction, CachePlan, Output};
use crate::progress::human;
use crate::report::{ExitStatus, Format};
use crate::Error;

pub fn run(plan: CachePlan, output: Output) -> Result<ExitStatus, Error> {
    let dir = plan.dir.ok_or(CacheError::NoDir)?;
    match plan.action {
        CacheAction::Dir => println!("{}", dir.display()),
        CacheAction::Clean { older_than } => {
            // Nothing there yet: nothing to clean, and nothing is created for it.
            let cleaned = match std::fs::metadata(&dir) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
                _ => Cache::open(&dir)?.clean(older_than)?,
            };
            match output.format {
                Format::Json => {
                    let row = serde_json::json!({"dir": dir, "removed": cleaned});
                    println!("{row}");
                }
                Format::Quiet => {}
                Format::Text => println!(
                    "removed {} cached artifacts and {} partial downloads ({}) from {}",
                    cleaned.entries,
                    cleaned.partials,
                    human(cleaned.bytes),
                    dir.display()
                ),
            }
        }
    }
    Ok(ExitStatus::Ok)
}
