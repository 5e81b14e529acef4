//! Writes the regression captures of `telltale_testkit::regress` to `tests/fixtures/regress/`
//! (run it after changing a case; `tests/regress.rs` checks the committed files are exactly
//! what it writes).
//!
//! Usage: `cargo run -p telltale-tools --bin make_regression_captures`

use std::path::Path;
use telltale_testkit::regress::{CASES, capture};

fn main() -> anyhow::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/regress");
    std::fs::create_dir_all(&dir)?;
    for case in CASES {
        let bytes = capture(case.file).map_err(|e| anyhow::anyhow!("{}: {e}", case.file))?;
        std::fs::write(dir.join(case.file), &bytes)?;
        println!("{}: {} bytes ({})", case.file, bytes.len(), case.what);
    }
    Ok(())
}
