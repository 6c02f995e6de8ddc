//! The truth's rolling yield (20 000 wires) along a run of the bond model under a
//! scenario: where an excursion takes the yield below 98 %, to choose scenario
//! parameters for the lead-time tests.
//!
//! `cargo run --release -p bondersim --example yield_profile -- WIRES LIFE [SCENARIO...]`

use bonder_core::recipe::{Recipe, parse_block};
use bondersim::model::BondModel;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let wires: u64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let life: u64 = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let r = Recipe::default_au();
    let Ok(v) = parse_block(&r.to_block()) else {
        return;
    };
    let mut m = BondModel::new(5, 0.0);
    m.drift.capillary_life = life;
    m.scenarios = args[2..].iter().filter_map(|s| s.parse().ok()).collect();
    let mut window = std::collections::VecDeque::with_capacity(20_000);
    let mut good = 0u32;
    let mut below_at = None;
    let mut acc = [0.0f64; 5];
    let mut n = 0.0;
    for i in 0..wires {
        m.drift.heater_offset_c = m.effects().heater_c;
        let w = m.next_wire(&v, i * 50_000, 50_000);
        let ok = w.truth.in_spec;
        let b = bonder_core::features::extract(&w.ball.curve, w.ball.kind);
        let st = bonder_core::features::extract(&w.stitch.curve, w.stitch.kind);
        if w.injected.is_none() {
            for (a, x) in acc.iter_mut().zip([
                b.us_energy_mj,
                b.deform_um,
                b.impedance_drop_pct,
                st.deform_um,
                st.impedance_drop_pct,
            ]) {
                *a += f64::from(x);
            }
            n += 1.0;
        }
        window.push_back(ok);
        good += u32::from(ok);
        if window.len() > 20_000 {
            good -= u32::from(window.pop_front().unwrap_or(false));
        }
        if window.len() == 20_000 {
            let y = f64::from(good) / 200.0;
            if i % 50_000 == 0 {
                let m: Vec<String> = acc.iter().map(|a| format!("{:8.3}", a / n)).collect();
                println!(
                    "{i:>9} yield {y:6.2} % shear {:5.1} us/bdef/bimp/sdef/simp {}",
                    w.truth.strength.shear_gf,
                    m.join(" ")
                );
                acc = [0.0; 5];
                n = 0.0;
            }
            if y < 98.0 && below_at.is_none() {
                below_at = Some(i);
            }
        }
    }
    println!("below 98 % at {below_at:?}");
}
