//! Synthetic station traffic (payloads of the gateway contract) for the load scenario,
//! screenshots and tests: statuses, bond batches, alarms, changeovers.

use bonder_gateway::payload::{
    AlarmMsg, BondMsg, BondsMsg, ChangeoverMsg, ChangeoverStepMsg, FirstArticleMsg, StatusMsg, V,
    ts,
};
use time::OffsetDateTime;

/// A small deterministic generator (xorshift), so runs repeat.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Uniform in [0, 1).
    pub fn f(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Roughly normal (sum of uniforms), mean 0, sd 1.
    pub fn n(&mut self) -> f64 {
        (0..12).map(|_| self.f()).sum::<f64>() - 6.0
    }
}

/// A status.
pub fn status(
    state: &str,
    recipe: &str,
    operator: Option<&str>,
    wires: u64,
    rate: f64,
    yield_pct: f64,
    alarm: Option<u16>,
) -> StatusMsg {
    StatusMsg {
        v: V,
        ts: ts(OffsetDateTime::now_utc()),
        state: state.into(),
        recipe: Some(recipe.into()),
        operator: operator.map(str::to_string),
        wires_bonded: wires,
        wire_rate_per_min: rate,
        yield_pct,
        alarm,
        epoch: None,
        audit_head: None,
        simulated: false,
        gem_control: None,
        gem_communicating: None,
    }
}

/// A batch of `wires` wires (ball + stitch each) from `first_seq`, with a reject rate.
pub fn bonds(rng: &mut Rng, first_seq: u64, wires: u64, reject_rate: f64) -> BondsMsg {
    let now = ts(OffsetDateTime::now_utc());
    let defects = [
        "nsop",
        "nsol",
        "short_tail",
        "ball_size",
        "placement",
        "curve",
    ];
    let mut v = Vec::with_capacity(wires as usize * 2);
    let mut seq = first_seq;
    for w in 0..wires {
        for kind in ["ball", "stitch"] {
            let verdict = if rng.f() < reject_rate / 2.0 {
                defects[(rng.f() * 6.0) as usize % 6]
            } else {
                "ok"
            };
            v.push(BondMsg {
                seq,
                ts: now.clone(),
                unit: (seq / 4) as u32,
                wire: (w % 2 + 1) as u16,
                kind: kind.into(),
                verdict: verdict.into(),
                dx_um: (rng.n() * 0.6 * 10.0).round() / 10.0,
                dy_um: (rng.n() * 0.6 * 10.0).round() / 10.0,
                ball_um: (kind == "ball").then(|| ((38.0 + rng.n() * 0.7) * 10.0).round() / 10.0),
                peak_force_gf: 24.0,
                us_energy_mj: 1.2,
                deform_um: 3.0,
            });
            seq += 1;
        }
    }
    BondsMsg {
        v: V,
        epoch: None,
        ts: now,
        first_seq,
        last_seq: seq - 1,
        bonds: v,
    }
}

/// An alarm raise or clear.
pub fn alarm(code: u16, raised: bool) -> AlarmMsg {
    AlarmMsg::new(OffsetDateTime::now_utc(), code, raised)
}

/// A changeover that ended `ago_min` minutes ago, steps with the given minutes.
pub fn changeover(
    id: &str,
    from: &str,
    to: &str,
    ago_min: f64,
    steps: &[(&str, f64)],
    pull: f64,
    shear: f64,
) -> ChangeoverMsg {
    let end = OffsetDateTime::now_utc() - time::Duration::seconds_f64(ago_min * 60.0);
    let total: f64 = steps.iter().map(|(_, m)| m).sum();
    let mut t = end - time::Duration::seconds_f64(total * 60.0);
    let started = t;
    let steps = steps
        .iter()
        .map(|(name, m)| {
            let s = t;
            t += time::Duration::seconds_f64(m * 60.0);
            ChangeoverStepMsg {
                name: (*name).into(),
                started: ts(s),
                ended: ts(t),
                by: "T-17".into(),
            }
        })
        .collect();
    ChangeoverMsg {
        v: V,
        id: id.into(),
        from_recipe: Some(from.into()),
        to_recipe: to.into(),
        started: ts(started),
        ended: ts(end),
        minutes: total,
        steps,
        first_article: FirstArticleMsg {
            passed: pull >= 2.5 && shear >= 9.0,
            pull_gf_min: pull,
            shear_gf_min: shear,
        },
    }
}

/// Changeover step names (the station's guided changeover).
pub const STEPS: [&str; 9] = [
    "select",
    "setup",
    "materials",
    "kit",
    "download",
    "settle",
    "pr_teach",
    "first_article",
    "sign_off",
];

/// The id of synthetic station `i` of the load scenarios (ten per line).
pub fn station_id(i: usize) -> String {
    format!("sz1/assembly/l{}/wb-{:02}", i / 10 + 1, i % 10 + 1)
}

/// Runs synthetic station `i` ([`station_id`]) against the broker at `host:port` until
/// `until`: every second a bond batch of `wires_per_s` wires while running; about one
/// state change every 20 s (running ↔ alarm or paused, with the alarm), published as a
/// status at once, and a status every 10 s besides. Started `i × 20 ms` late so 50
/// stations spread over the first second.
pub async fn run_station(
    host: String,
    port: u16,
    i: usize,
    wires_per_s: u64,
    until: std::time::Instant,
) -> Result<(), rumqttc::ClientError> {
    use std::time::{Duration, Instant};
    let id = station_id(i);
    let mut o = rumqttc::MqttOptions::new(format!("load-{i}-{}", std::process::id()), host, port);
    o.set_keep_alive(Duration::from_secs(10));
    o.set_max_packet_size(8 << 20, 8 << 20);
    let (client, mut ev) = rumqttc::AsyncClient::new(o, 256);
    let poll = tokio::spawn(async move {
        loop {
            if ev.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    let mut rng = Rng::new(i as u64 + 1);
    let mut seq = 1u64;
    let mut wires = 0u64;
    let mut state = "running";
    let mut last_status: Option<Instant> = None;
    let qos = rumqttc::QoS::AtLeastOnce;
    tokio::time::sleep(Duration::from_millis(i as u64 * 20)).await;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while Instant::now() < until {
        tick.tick().await;
        // About one state change per station every 20 s: the event the latency measures.
        let changed = rng.f() < 0.05;
        if changed {
            state = match state {
                "running" if rng.f() < 0.5 => "alarm",
                "running" => "paused",
                _ => "running",
            };
            if state == "alarm" {
                client
                    .publish(
                        format!("{id}/alarms"),
                        qos,
                        false,
                        to_json(&alarm(104, true)),
                    )
                    .await?;
            }
        }
        if state == "running" {
            let b = bonds(&mut rng, seq, wires_per_s, 0.01);
            seq = b.last_seq + 1;
            wires += wires_per_s;
            client
                .publish(format!("{id}/bonds"), qos, false, to_json(&b))
                .await?;
        }
        if changed || last_status.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            let s = status(
                state,
                "SOT23-CU20@3",
                Some("OP1"),
                wires,
                (wires_per_s * 60) as f64,
                99.0 + rng.f(),
                (state == "alarm").then_some(104),
            );
            client
                .publish(format!("{id}/status"), qos, true, to_json(&s))
                .await?;
            last_status = Some(Instant::now());
        }
    }
    // Let the last publishes go out before the session ends.
    tokio::time::sleep(Duration::from_millis(300)).await;
    poll.abort();
    Ok(())
}

/// A payload as JSON bytes (payload types always serialise).
fn to_json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}
