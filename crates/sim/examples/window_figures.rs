//! The process-window search's figures (issue 19): Bayesian optimisation and the
//! central composite design on the simulator's bench, over several seeds, against the
//! simulator's truth.
//!
//! `cargo run --release -p bondersim --example window_figures -- [WIRE] [METHOD]
//! [BUDGET_UNITS] [UNITS_PER_RUN] [SEEDS]`, e.g. `Au:25.4 bo 200 4 10`: one line per seed
//! (units, wires, worst centre error over the true half-width, IoU), then the median and
//! the worst.

#![allow(clippy::unwrap_used)] // a figures tool: a missing estimate is the report
use bonder_core::recipe::Param;
use bonder_core::recipe::Recipe;
use bonder_core::window::{self, Run};
use bonder_core::window::{Bounds, Method};
use bondersim::window::{
    Bench, Truth, bench_bounds, bench_search, built_in, limits_of, margins, parse_wire, set, truth,
    values,
};

const FOUR: [Param; 4] = [
    Param::BallUsPower,
    Param::BallForce,
    Param::BallTime,
    Param::HeaterTemp,
];

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
    if arg(5, "") == "model" {
        // The surrogate and the box alone, no search: a Latin hypercube of `budget`
        // runs, its true margins and its bench-measured ones (`per_run` units each).
        let b = bench_bounds(m);
        let lim = limits_of(&recipe);
        let tb: Vec<[f64; 2]> = {
            let lo = b.to_unit(&t.bounds.iter().map(|x| x[0]).collect::<Vec<_>>());
            let hi = b.to_unit(&t.bounds.iter().map(|x| x[1]).collect::<Vec<_>>());
            lo.into_iter().zip(hi).map(|(a, b)| [a, b]).collect()
        };
        for seed in 1..=seeds {
            let pts = window::latin_hypercube(budget as usize, 4, seed);
            let mut bench = Bench::new(seed);
            let (mut tr, mut me) = (Vec::new(), Vec::new());
            for u in pts {
                let mut r = recipe.clone();
                for (p, v) in FOUR.iter().zip(b.from_unit(&u)) {
                    set(&mut r, *p, v);
                }
                tr.push(Run {
                    at: u.clone(),
                    margins: margins(&values(&r), &lim).to_vec(),
                });
                let s = bench.run(&r, per_run);
                me.push(Run {
                    at: u,
                    margins: window::measured_margins(&s, &lim).to_vec(),
                });
            }
            for i in 0..5 {
                let d: Vec<f64> = me
                    .iter()
                    .zip(&tr)
                    .filter(|(_, b)| b.margins[i].abs() < 0.4)
                    .map(|(a, b)| a.margins[i] - b.margins[i])
                    .collect();
                let n = d.len().max(1) as f64;
                let mu = d.iter().sum::<f64>() / n;
                let sd = (d.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / n).sqrt();
                let big = d.iter().filter(|x| x.abs() > 0.25).count();
                println!(
                    "  noise {:10} near zero: n {} bias {mu:.3} sd {sd:.3} |d|>0.25: {big}",
                    window::CHARACTERISTICS[i],
                    d.len()
                );
            }
            if let Some(g) = window::gp_margins(&me) {
                // The GPs against the truth at the true box's 3^4 points.
                let tc: Vec<f64> = tb.iter().map(|[l, h]| (l + h) / 2.0).collect();
                let pts: Vec<Vec<f64>> = (0..81usize)
                    .map(|mut k| {
                        (0..4)
                            .map(|j| {
                                let s = (k % 3) as f64 - 1.0;
                                k /= 3;
                                tc[j] + s * (tb[j][1] - tb[j][0]) / 2.0
                            })
                            .collect()
                    })
                    .collect();
                for (i, g) in g.iter().enumerate() {
                    let th = g.theta();
                    let errs: Vec<f64> = pts
                        .iter()
                        .map(|u| {
                            let mut r = recipe.clone();
                            for (p, v) in FOUR.iter().zip(b.from_unit(u)) {
                                set(&mut r, *p, v);
                            }
                            let tm = window::squash(margins(&values(&r), &lim)[i]);
                            g.predict(u).0 - tm
                        })
                        .collect();
                    let bias = errs.iter().sum::<f64>() / 81.0;
                    let rms = (errs.iter().map(|e| e * e).sum::<f64>() / 81.0).sqrt();
                    println!(
                        "  gp {:10} len {:?} sig {:.2} noise {:.3}; on the true box: bias {bias:.3} rms {rms:.3}",
                        window::CHARACTERISTICS[i],
                        th[..4]
                            .iter()
                            .map(|v| (v.exp() * 100.0).round() / 100.0)
                            .collect::<Vec<_>>(),
                        th[4].exp().sqrt(),
                        g.noise_sd()
                    );
                }
            }
            let hybrid = |i: usize| -> Vec<Run> {
                me.iter()
                    .zip(&tr)
                    .map(|(a, b)| {
                        let mut r = a.clone();
                        r.margins[i] = b.margins[i];
                        r
                    })
                    .collect()
            };
            let hy: Vec<Vec<Run>> = (0..5).map(hybrid).collect();
            let names = [
                "true",
                "measured",
                "m+t_shear",
                "m+t_pull",
                "m+t_small",
                "m+t_large",
                "m+t_crater",
            ];
            let sets: Vec<&Vec<Run>> = [&tr, &me].into_iter().chain(hy.iter()).collect();
            let only = arg(6, "");
            for (name, rs) in names.iter().zip(sets) {
                if !only.is_empty() && !only.split(',').any(|o| o == *name) {
                    continue;
                }
                let started = std::time::Instant::now();
                let e = window::estimate(method, rs).unwrap();
                let ub = e.unit_box();
                let err: Vec<f64> = e
                    .centre
                    .iter()
                    .zip(&tb)
                    .map(|(c, [l, h])| {
                        ((c - (l + h) / 2.0).abs() / ((h - l) / 2.0) * 100.0).round() / 100.0
                    })
                    .collect();
                if let Some(g) = window::gp_margins(rs) {
                    let tc: Vec<f64> = tb.iter().map(|[l, h]| (l + h) / 2.0).collect();
                    let r2 = |v: &[f64]| {
                        v.iter()
                            .map(|x| (x * 100.0).round() / 100.0)
                            .collect::<Vec<_>>()
                    };
                    let gm = |u: &[f64]| r2(&g.iter().map(|g| g.predict(u).0).collect::<Vec<_>>());
                    println!(
                        "  est box {:?} truth {:?}\n  gp at est centre {:?} at true centre {:?}",
                        ub.iter().map(|x| r2(x)).collect::<Vec<_>>(),
                        tb.iter().map(|x| r2(x)).collect::<Vec<_>>(),
                        gm(&e.centre),
                        gm(&tc)
                    );
                    // The GPs' smallest margin on the true box's corners.
                    let mut worst = vec![f64::INFINITY; 5];
                    for k in 0..16usize {
                        let u: Vec<f64> = (0..4).map(|j| tb[j][k >> j & 1]).collect();
                        for (i, g) in g.iter().enumerate() {
                            worst[i] = worst[i].min(g.predict(&u).0);
                        }
                    }
                    println!("  gp worst on the true corners {:?}", r2(&worst));
                }
                println!(
                    "model {m} seed {seed} n {budget} {name}: err {err:?} IoU {:.2} ({:.1} s)",
                    window::iou(&ub, &tb),
                    started.elapsed().as_secs_f64()
                );
            }
        }
        return Ok(());
    }
    if arg(5, "") == "diag" {
        for seed in 1..=seeds {
            diagnose(&recipe, &bench_bounds(m), &t, method, budget, per_run, seed);
        }
        return Ok(());
    }
    let (mut errs, mut ious, mut wires) = (Vec::new(), Vec::new(), Vec::new());
    for seed in 1..=seeds {
        let started = std::time::Instant::now();
        let o = bench_search(
            &recipe,
            &FOUR,
            &bench_bounds(m),
            method,
            budget,
            per_run,
            seed,
        )
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

/// The same session as [`bench_search`], its runs kept: prints each run (unit
/// coordinates, measured and true margins, which binds), each margin's GP
/// hyperparameters, and the estimate against the truth per axis — from the measured
/// margins and, for comparison, from the true margins at the same points.
fn diagnose(
    recipe: &Recipe,
    b: &Bounds,
    t: &Truth,
    method: Method,
    budget: u32,
    per_run: u32,
    seed: u64,
) {
    let lim = limits_of(recipe);
    let at = |u: &[f64]| {
        let mut r = recipe.clone();
        for (p, v) in FOUR.iter().zip(b.from_unit(u)) {
            set(&mut r, *p, v);
        }
        r
    };
    let mut bench = Bench::new(seed);
    let mut runs: Vec<Run> = Vec::new();
    let budget_runs = (budget / per_run) as usize;
    while runs.len() < budget_runs {
        let pts = window::next_points(method, 4, &runs, seed);
        if pts.is_empty() {
            break;
        }
        for u in pts.into_iter().take(budget_runs - runs.len()) {
            let s = bench.run(&at(&u), per_run);
            runs.push(Run {
                at: u,
                margins: window::measured_margins(&s, &lim).to_vec(),
            });
        }
    }
    let f2 = |v: &[f64]| v.iter().map(|x| format!("{x:6.2}")).collect::<String>();
    let argmin = |v: &[f64]| {
        let (i, _) = v
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .unwrap();
        window::CHARACTERISTICS[i]
    };
    println!("== seed {seed}: {} runs", runs.len());
    let tu = |x: &[f64]| b.to_unit(x);
    let tlo = tu(&t.bounds.iter().map(|x| x[0]).collect::<Vec<_>>());
    let thi = tu(&t.bounds.iter().map(|x| x[1]).collect::<Vec<_>>());
    println!(
        "truth unit centre {} lo {} hi {}",
        f2(&tu(&t.centre)),
        f2(&tlo),
        f2(&thi)
    );
    let mut true_runs = Vec::new();
    for (k, r) in runs.iter().enumerate() {
        let tm = margins(&values(&at(&r.at)), &lim);
        println!(
            "run {k:3} at{} meas{} [{:10}] true{} [{:10}]",
            f2(&r.at),
            f2(&r.margins),
            argmin(&r.margins),
            f2(&tm),
            argmin(&tm)
        );
        true_runs.push(Run {
            at: r.at.clone(),
            margins: tm.to_vec(),
        });
    }
    let gps = if method == Method::Bo {
        window::gp_margins(&runs)
    } else {
        None
    };
    for (i, g) in gps.iter().flatten().enumerate() {
        let th = g.theta();
        println!(
            "gp {:10} len{} sig {:.2} noise_sd {:.3}",
            window::CHARACTERISTICS[i],
            f2(&th[..4].iter().map(|v| v.exp()).collect::<Vec<_>>()),
            th[4].exp().sqrt(),
            g.noise_sd()
        );
    }
    for (name, rs) in [("measured", &runs), ("true-at-runs", &true_runs)] {
        let Some(e) = window::estimate(method, rs) else {
            println!("{name}: no estimate");
            continue;
        };
        let ub = e.unit_box();
        println!(
            "{name}: centre{} lo{} hi{} margin {:.2} at centre {:?}",
            f2(&e.centre),
            f2(&ub.iter().map(|x| x[0]).collect::<Vec<_>>()),
            f2(&ub.iter().map(|x| x[1]).collect::<Vec<_>>()),
            e.margin,
            e.at_centre
                .iter()
                .map(|(m, s)| format!("{m:.2}±{s:.2}"))
                .collect::<Vec<_>>()
        );
        let tm = margins(&values(&at(&e.centre)), &lim);
        println!("  true margins at est centre{} [{}]", f2(&tm), argmin(&tm));
        let tb: Vec<[f64; 2]> = tlo.iter().zip(&thi).map(|(a, b)| [*a, *b]).collect();
        let err: Vec<f64> = e
            .centre
            .iter()
            .zip(&tb)
            .map(|(c, [l, h])| (c - (l + h) / 2.0).abs() / ((h - l) / 2.0))
            .collect();
        println!("  err{} IoU {:.2}", f2(&err), window::iou(&ub, &tb));
        // Which modelled margin binds each face of the estimated box (the smallest over
        // the face's 3^(d-1) box points), and the true one there.
        if let (Some(g), "measured") = (&gps, name) {
            for i in 0..4 {
                for side in [0usize, 1] {
                    let mut worst = (f64::INFINITY, 0usize, 0.0, 0usize);
                    for k in 0..27usize {
                        let mut kk = k;
                        let mut u = vec![0.0; 4];
                        for j in 0..4 {
                            if j == i {
                                u[j] = ub[j][side];
                            } else {
                                u[j] = e.centre[j] + (kk % 3) as f64 * e.half[j] - e.half[j];
                                kk /= 3;
                            }
                        }
                        let mm: Vec<f64> = g.iter().map(|g| g.predict(&u).0).collect();
                        let (a, v) = mm
                            .iter()
                            .enumerate()
                            .min_by(|a, b| a.1.total_cmp(b.1))
                            .unwrap();
                        if *v < worst.0 {
                            let tm = margins(&values(&at(&u)), &lim);
                            let (ta, tv) = tm
                                .iter()
                                .enumerate()
                                .min_by(|a, b| a.1.total_cmp(b.1))
                                .unwrap();
                            worst = (*v, a, *tv, ta);
                        }
                    }
                    println!(
                        "  axis {i} {}: model {} {:.2}, true {} {:.2}",
                        ["lo", "hi"][side],
                        window::CHARACTERISTICS[worst.1],
                        worst.0,
                        window::CHARACTERISTICS[worst.3],
                        worst.2
                    );
                }
            }
        }
    }
}
