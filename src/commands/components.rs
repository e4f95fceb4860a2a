//! `kverify components`: what the catalog knows.

use crate::catalog::Catalog;
use crate::cli::ComponentsArgs;
use crate::report::{ExitStatus, Format};
use crate::Error;

pub fn run(args: ComponentsArgs, format: Format) -> Result<ExitStatus, Error> {
    let catalog = Catalog::load(&args.catalog)?;
    for (name, upstream, description, platforms) in catalog.components() {
        if format == Format::Json {
            let row = serde_json::json!({
                "component": name, "upstream": upstream, "description": description, "platforms": platforms,
            });
            println!("{row}");
        } else {
            println!("{name:<24} {upstream:<12} {description}");
            println!("{:<24} {:<12} {}", "", "", platforms.join(" "));
        }
    }
    Ok(ExitStatus::Ok)
}
