//! What leaves the simulator besides the controller link: the ground truth of every wire
//! (`--truth FILE`, one JSON line per wire) and a bench pull/shear tester's export files
//! (`--pull-tests DIR`), so the station's strength prediction can be fitted and scored.
//!
//! A tester file (`pulltest-NNNNNN.csv`, written whole under a temporary name, then
//! renamed, so a watcher never sees half a file) has the header
//! `unit,wire,test,force_gf,mode,time`: one row per tested wire, `test` = `pull` or
//! `shear`, `mode` = the failure mode (`neck_break`, `ball_lift`, `heel_break`,
//! `stitch_lift`, `cratering` for a pull; `ball_shear`, `ball_lift`, `cratering` for a
//! shear), `time` = the bench's local time `YYYY-MM-DD HH:MM:SS`.

use crate::model::Wire;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where and how often the tester exports.
#[derive(Debug, Clone, PartialEq)]
pub struct PullTests {
    pub dir: PathBuf,
    /// A file after every this many units; the last unit of each period is tested.
    pub every_units: u32,
}

/// `--truth FILE`: one JSON line per wire.
#[derive(Debug)]
pub struct TruthFile {
    out: std::io::BufWriter<std::fs::File>,
    failed: bool,
}

impl TruthFile {
    pub fn create(path: &Path) -> std::io::Result<TruthFile> {
        Ok(TruthFile {
            out: std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(path)?),
            failed: false,
        })
    }

    /// The wire's line: `time_us` (the controller time of its ball bond), `unit`, `wire`,
    /// `pull_gf`, `shear_gf`, `mode`, `in_spec`, `causes`, `lot`, `defect`.
    pub fn write(&mut self, w: &Wire) {
        if self.failed {
            return;
        }
        let t = &w.truth;
        let line = serde_json::json!({
            "time_us": w.ball.time_us,
            "unit": w.ball.unit_no,
            "wire": w.ball.wire_no,
            "pull_gf": round3(t.strength.pull_gf),
            "shear_gf": round3(t.strength.shear_gf),
            "mode": t.strength.mode.name(),
            "in_spec": t.in_spec,
            "causes": t.causes,
            "lot": t.lot,
            "defect": w.injected.map(|d| d.name()),
        });
        if let Err(e) = writeln!(self.out, "{line}") {
            tracing::error!("truth file: {e} (no more truth is written)");
            self.failed = true;
        }
    }

    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

impl Drop for TruthFile {
    fn drop(&mut self) {
        self.flush();
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The bench tester: collects the wires of the unit to test, writes a file per period.
#[derive(Debug)]
pub struct PullTester {
    cfg: PullTests,
    unit: Option<u32>,
    wires: Vec<Wire>,
    files: u64,
}

impl PullTester {
    pub fn new(cfg: PullTests) -> PullTester {
        if let Err(e) = std::fs::create_dir_all(&cfg.dir) {
            tracing::error!("--pull-tests {}: {e}", cfg.dir.display());
        }
        PullTester {
            cfg,
            unit: None,
            wires: Vec::new(),
            files: 0,
        }
    }

    /// Takes a made wire; when a tested unit is complete, writes its file.
    pub fn wire(&mut self, w: &Wire) {
        let unit = w.ball.unit_no;
        if self.unit != Some(unit) {
            self.finish_unit();
            self.unit = Some(unit);
        }
        if unit % self.cfg.every_units.max(1) == 0 {
            self.wires.push(w.clone());
        }
    }

    /// The machine stopped: writes the file of a tested unit still open (a unit taken
    /// off the machine is tested whole or not at all, so a stop mid-unit tests what was
    /// bonded of it).
    pub fn flush(&mut self) {
        self.finish_unit();
        self.unit = None;
    }

    fn finish_unit(&mut self) {
        if self.wires.is_empty() {
            return;
        }
        let wires = std::mem::take(&mut self.wires);
        self.files += 1;
        if let Err(e) = self.write_file(&wires) {
            tracing::error!("pull tester file: {e}");
        }
    }

    fn write_file(&self, wires: &[Wire]) -> std::io::Result<()> {
        let now = jiff::Zoned::now();
        let time = now.strftime("%Y-%m-%d %H:%M:%S").to_string();
        let mut body = String::from("unit,wire,test,force_gf,mode,time\n");
        for w in wires {
            let s = &w.truth.strength;
            // A destructive test: odd wires are pulled, even ones sheared.
            let (test, force, mode) = if w.ball.wire_no % 2 == 1 {
                ("pull", s.pull_gf, s.mode.name())
            } else {
                let mode = if s.cratered {
                    "cratering"
                } else if s.mode == crate::strength::FailureMode::BallLift {
                    "ball_lift"
                } else {
                    "ball_shear"
                };
                ("shear", s.shear_gf, mode)
            };
            body += &format!(
                "{},{},{test},{force:.2},{mode},{time}\n",
                w.ball.unit_no, w.ball.wire_no
            );
        }
        let name = format!("pulltest-{:06}.csv", self.files);
        let tmp = self.cfg.dir.join(format!(".{name}.part"));
        std::fs::write(&tmp, body)?;
        std::fs::rename(&tmp, self.cfg.dir.join(name))
    }
}
