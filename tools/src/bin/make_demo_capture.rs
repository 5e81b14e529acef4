//! Writes the built-in demo capture to `tests/fixtures/demo.pcapng` (run it after changing
//! anything under `src/demo/`, then commit the file).

use std::path::Path;

fn main() -> anyhow::Result<()> {
    let bytes = telltale_testkit::demo::try_demo_capture()?;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/demo.pcapng");
    std::fs::write(&path, &bytes)?;
    println!("wrote {} ({} bytes)", path.display(), bytes.len());
    Ok(())
}
