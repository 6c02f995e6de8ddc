//! The process-window search's figures (issue 19): Bayesian optimisation and the
//! central composite design on the simulator's bench, over several seeds, against the
//! simulator's truth.
//!
//! `cargo run --release -p bondersim --example window_figures -- [WIRE] [METHOD]
//! [BUDGET_UNITS] [UNITS_PER_RUN] [SEEDS]`, e.g. `Au:25.4 bo 200 4 10`: one line per seed
//! (units, wires, worst centre error over the true half-width, IoU), then the median and
//! the worst.

use bonder_core::recipe::{Param, WireMaterial};
use bonder_core::window::{Bounds, Method};
use bondersim::window::{bench_search, built_in, parse_wire, truth};

const FOUR: [Param; 4] = [
    Param::BallUsPower,
    Param::BallForce,
    Param::BallTime,
    Param::HeaterTemp,
];

fn bounds(m: WireMaterial) -> Bounds {
    match m {
        WireMaterial::Au => Bounds::new(vec![
            [30.0, 100.0],
            [15.0, 70.0],
            [4.0, 25.0],
            [150.0, 260.0],
        ]),
        _ => Bounds::new(vec![
            [40.0, 100.0],
            [12.0, 50.0],
            [4.0, 22.0],
            [160.0, 250.0],
        ]),
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, d: &str| a.get(i).cloned().unwrap_or_else(|| d.to_string());
    let (m, d) = parse_wire(&arg(0, "Au:25.4"))?;
    let method =
        Method::from_name(&arg(1, "bo")).ok_or_else(|| anyhow::anyhow!("a method is bo or ccd"))?;
    let budget: u32 = arg(2, "200").parse()?;
    let per_run: u32 = arg(3, "4").parse()?;
    let seeds: u64 = arg(4, "10").parse()?;
    let recipe = built_in(m, d);
    let t = truth(&recipe, &FOUR, None);
    let (mut errs, mut ious, mut wires) = (Vec::new(), Vec::new(), Vec::new());
    for seed in 1..=seeds {
        let started = std::time::Instant::now();
        let o = bench_search(&recipe, &FOUR, &bounds(m), method, budget, per_run, seed)
            .ok_or_else(|| anyhow::anyhow!("no estimate"))?;
        let (err, iou) = o.accuracy(&t);
        let worst = err.iter().copied().fold(0.0, f64::max);
        println!(
            "{m} {} seed {seed}: {} units, {} wires, {} runs ({} in spec), centre error {:?}, worst {worst:.2}, IoU {iou:.2} ({:.1} s)",
            method.name(),
            o.units,
            o.wires,
            o.runs,
            o.in_spec_runs,
            err.iter()
                .map(|x| (x * 100.0).round() / 100.0)
                .collect::<Vec<_>>(),
            started.elapsed().as_secs_f64()
        );
        errs.push(worst);
        ious.push(iou);
        wires.push(o.wires as f64);
    }
    let worst_err = errs.iter().copied().fold(0.0, f64::max);
    let worst_iou = ious.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "{m} {} {budget} units ({per_run}/run), {seeds} seeds: centre error median {:.2} worst {worst_err:.2}; IoU median {:.2} worst {worst_iou:.2}; wires median {}",
        method.name(),
        median(&mut errs),
        median(&mut ious),
        median(&mut wires)
    );
    Ok(())
}
