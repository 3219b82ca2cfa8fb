//! The committed header must be exactly what cbindgen generates from the
//! crate now (as rustls-ffi's CI checks). `BANGUI_BLESS=1 cargo test -p
//! bangui-state-c --test header` (or `make header`) rewrites it.

use std::path::Path;

#[test]
fn committed_header_matches_a_fresh_cbindgen_run() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let fresh = String::from_utf8(fresh).expect("the header is UTF-8");
    // The design keeps the header in the repository's top-level `include/`.
    let path = crate_dir.join("..").join("include").join("bangui_state.h");
    if std::env::var_os("BANGUI_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &fresh).expect("write the header");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is stale: regenerate it with `make header` (BANGUI_BLESS=1) and commit it",
        path.display()
    );
}
