//! The demo's journal folder: `tradeledger demo --journal DIR` may replace a
//! folder it made itself, and nothing else.

use std::path::{Path, PathBuf};

/// Marks a folder as made by the demo, so a re-run may replace it and
/// nothing else is ever deleted.
const DEMO_MARKER: &str = ".tradeledger-demo";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("could not {operation} {path}: {source}")]
    Io { path: PathBuf, operation: &'static str, source: std::io::Error },
    #[error("{dir} already exists and was not made by the demo; pass another folder with --journal")]
    NotDemoFolder { dir: PathBuf },
}

fn io_error(path: &Path, operation: &'static str) -> impl FnOnce(std::io::Error) -> DemoError {
    let path = path.to_path_buf();
    move |source| DemoError::Io { path, operation, source }
}

/// Empties a folder the demo made before (or creates `dir`), and marks it.
pub fn prepare_demo_folder(dir: &Path) -> Result<(), DemoError> {
    if dir.join(DEMO_MARKER).is_file() {
        std::fs::remove_dir_all(dir).map_err(io_error(dir, "remove the previous demo journal"))?;
    } else if dir.exists() {
        return Err(DemoError::NotDemoFolder { dir: dir.to_path_buf() });
    }
    std::fs::create_dir_all(dir).map_err(io_error(dir, "create"))?;
    std::fs::write(dir.join(DEMO_MARKER), b"made by `tradeledger demo`; a re-run replaces this folder\n")
        .map_err(io_error(dir, "mark"))
}
