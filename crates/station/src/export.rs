//! The CLI's store commands: audit verification, exports.

use crate::cli::ExportCmd;
use anyhow::{Context, bail};
use bonder_store::Store;
use time::OffsetDateTime;

/// `audit verify`: checks the hash chain of the store at `db`.
pub fn audit_verify(db: &std::path::Path) -> anyhow::Result<()> {
    match Store::verify_audit(db) {
        Ok(r) => {
            println!("audit trail intact: {} rows", r.rows);
            Ok(())
        }
        Err(bonder_store::StoreError::AuditBroken { row_id, reason }) => {
            bail!(
                "audit trail broken at row {row_id}: {reason} ({})",
                db.display()
            )
        }
        Err(e) => Err(e).with_context(|| format!("store {}", db.display())),
    }
}

pub fn lang(code: &str) -> anyhow::Result<bonder_i18n::Lang> {
    bonder_i18n::Lang::from_code(code)
        .with_context(|| format!("language {code:?}: expected en-US or zh-CN"))
}

/// The store an export reads: `--db`, else the configured one.
fn open_store(db: Option<&std::path::Path>, default_db: &std::path::Path) -> anyhow::Result<Store> {
    let path = db.unwrap_or(default_db);
    Store::open(path).with_context(|| format!("store {}", path.display()))
}

/// The export's output file.
fn create(out: &std::path::Path) -> anyhow::Result<std::fs::File> {
    std::fs::File::create(out).with_context(|| format!("export file {}", out.display()))
}

/// `export …`: bonds, a shift report or the changeover report to a file.
pub fn export(cmd: &ExportCmd, default_db: &std::path::Path) -> anyhow::Result<()> {
    match cmd {
        ExportCmd::Bonds {
            db,
            from,
            to,
            lang: code,
            out,
        } => {
            let l = lang(code)?;
            let store = open_store(db.as_deref(), default_db)?;
            let reader = store.reader()?;
            let to = match to {
                Some(t) => *t,
                None => reader.max_bond_seq()?.unwrap_or(0),
            };
            let mut f = create(out)?;
            let n = reader.export_bonds_csv(*from..=to, &mut f, &|k| bonder_i18n::tr(l, k))?;
            crate::admin::audit_file_export(&store, "bonds", out)?;
            println!("{n} bonds written to {}", out.display());
        }
        ExportCmd::Shift {
            db,
            id,
            lang: code,
            out,
        } => {
            let l = lang(code)?;
            let store = open_store(db.as_deref(), default_db)?;
            let reader = store.reader()?;
            let id = match id {
                Some(i) => *i,
                None => reader
                    .max_shift_id()?
                    .context("the store has no shift yet")?,
            };
            let summary = reader.shift_summary(
                id,
                OffsetDateTime::now_utc(),
                bonder_store::DEFAULT_IDEAL_WIRES_PER_HOUR,
            )?;
            let tr = |k: &str| bonder_i18n::tr(l, k);
            if out
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
            {
                summary.write_xlsx(out, &tr)?;
            } else {
                let mut f = create(out)?;
                summary.write_csv(&mut f, &tr)?;
            }
            crate::admin::audit_file_export(&store, "shift", out)?;
            println!("shift {id} report written to {}", out.display());
        }
        ExportCmd::Changeovers {
            db,
            last,
            lang: code,
            out,
        } => {
            let l = lang(code)?;
            let store = open_store(db.as_deref(), default_db)?;
            let (n, stats) = bonder_changeover::step_report(&store, *last)?;
            let mut f = create(out)?;
            bonder_changeover::write_report_csv(&stats, &mut f, &|k| bonder_i18n::tr(l, k))?;
            crate::admin::audit_file_export(&store, "changeovers", out)?;
            println!(
                "changeover report over {n} changeovers written to {}",
                out.display()
            );
        }
    }
    Ok(())
}
