//! A `--catalog FILE` (TOML) added to the built-in catalog, then every component it
//! names resolved for each of its platforms at a few versions.
//! Invariants: no panic; a catalog that loads resolves its own components on its own
//! platforms, every template fully expanded, or says the combination is not published
//! (a version outside a range).

#![no_main]

use kverify::catalog::{Catalog, CatalogError};
use kverify::platform::Platform;
use kverify::version::Version;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(catalog) = Catalog::load_with_text("fuzz.toml", text) else { return };
    let versions: Vec<Version> = ["0.0.1", "v1.29.0", "1.30.0-rc.1", "999999999.0.0"]
        .iter()
        .map(|v| Version::parse(v).expect("valid"))
        .collect();
    for component in catalog.components() {
        let name = component.name;
        for p in component.platforms {
            let platform: Platform = p.value;
            for v in &versions {
                let artifact = match catalog.resolve(&name, v, &platform) {
                    Ok(artifact) => artifact,
                    Err(CatalogError::NotPublished { .. }) => continue,
                    Err(e) => panic!("{name} {v} {platform} does not resolve: {e}"),
                };
                for url in std::iter::once(&artifact.url).chain(&artifact.checksum_urls) {
                    assert!(!url.contains("{name}") && !url.contains("{version}"), "{url}");
                }
            }
            let _ = catalog.marker_url(&name, &platform, "stable-1.29");
        }
    }
});
