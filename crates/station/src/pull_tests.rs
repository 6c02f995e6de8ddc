//! Pull and shear test results into the store: `bonder-station import tests FILE` (a
//! person signs in with badge and PIN on stdin) and the watched folder `pull_tests_dir`
//! (as the station, `system`), both through `Store::import_test_results`. A file with a
//! bad line is refused whole, naming every bad line in both languages; nothing of it is
//! stored.

use bonder_core::pull_test::{BadLine, parse_csv};
use bonder_store::tests_results::source_sha;
use bonder_store::{Actor, ImportOutcome, Role, Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Why a tester file was not imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source} / 无法读取 {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: nothing imported / 未导入任何数据:\n{}", lines(.bad))]
    Bad { path: String, bad: Vec<BadLine> },
    #[error("{path}: {source}")]
    Store {
        path: String,
        #[source]
        source: StoreError,
    },
}

fn lines(bad: &[BadLine]) -> String {
    bad.iter()
        .map(|b| format!("  {b}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads, checks and imports one tester file as `by`.
pub fn import_file(store: &Store, path: &Path, by: &Actor) -> Result<ImportOutcome, ImportError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ImportError::Read {
        path: shown.clone(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let rows = parse_csv(&text).map_err(|bad| ImportError::Bad {
        path: shown.clone(),
        bad,
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| shown.clone());
    store
        .import_test_results(
            &rows,
            &name,
            &source_sha(&bytes),
            by,
            OffsetDateTime::now_utc(),
        )
        .map_err(|source| ImportError::Store {
            path: shown,
            source,
        })
}

/// Watches `dir` (every 2 s): each `*.csv` not starting with `.` is imported as the
/// station (`system`) and moved to `dir/imported/`, or, refused, to `dir/refused/` with
/// `<name>.why.txt` beside it. Runs until the task is dropped.
pub async fn watch_folder(
    store: Arc<Store>,
    dir: PathBuf,
    predictor: Arc<crate::strength::Predictor>,
) {
    for sub in ["imported", "refused"] {
        if let Err(e) = std::fs::create_dir_all(dir.join(sub)) {
            tracing::error!("pull_tests_dir {}: {e}", dir.display());
            return;
        }
    }
    tracing::info!(dir = %dir.display(), "watching for pull tester files");
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tick.tick().await;
        let store = store.clone();
        let d = dir.clone();
        let p = predictor.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || {
            if sweep(&store, &d) {
                if let Err(e) = p.reload(&store) {
                    tracing::error!("strength models not read: {e}");
                }
            }
        })
        .await
        {
            tracing::error!("pull tester folder: {e}");
        }
    }
}

/// One pass over the folder (oldest name first); whether anything was imported.
pub fn sweep(store: &Store, dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv"))
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    let any = !files.is_empty();
    let system = Actor::new("station", Role::System);
    for f in files {
        let Some(name) = f.file_name().map(|n| n.to_os_string()) else {
            continue;
        };
        match import_file(store, &f, &system) {
            Ok(out) => {
                tracing::info!(
                    file = %f.display(),
                    imported = out.imported,
                    duplicates = out.duplicates,
                    joined = out.joined,
                    "pull tester file imported"
                );
                move_to(&f, &dir.join("imported").join(&name));
            }
            Err(ImportError::Store { source, .. }) => {
                // The store failing (full disk …): the file stays for the next pass.
                tracing::error!(file = %f.display(), "pull tester file not imported: {source}");
                return false;
            }
            Err(e) => {
                tracing::warn!("{e}");
                let to = dir.join("refused").join(&name);
                move_to(&f, &to);
                let mut why = to.into_os_string();
                why.push(".why.txt");
                if let Err(w) = std::fs::write(&why, format!("{e}\n")) {
                    tracing::error!("{}: {w}", PathBuf::from(why).display());
                }
            }
        }
    }
    if any {
        refit_after_import(store);
    }
    any
}

/// Refits the strength models once enough new results came in.
fn refit_after_import(store: &Store) {
    if let Err(e) = crate::strength::refit(store, crate::strength::REFIT_AFTER) {
        tracing::error!("strength models not refitted: {e}");
    }
}

fn move_to(from: &Path, to: &Path) {
    // The folder may be new (a sweep without the watcher, or one removed by hand).
    if let Some(parent) = to.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Err(e) = std::fs::rename(from, to) {
        tracing::error!("moving {} to {}: {e}", from.display(), to.display());
    }
}
