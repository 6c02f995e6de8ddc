//! `ProductionAdapter`: state, recipe, counters, commands, consumables, live curve, strip.

use super::{model, num};
use crate::app::{Inner, UiMsg, message_text};
use crate::plot::{self, PlotInput};
use crate::store::{AuditEvent, Permission};
use crate::tr::{Arg, Message, Texts};
use crate::ui::{
    AppAdapter, BondCell, Condition, CountRow, MachineCommand, MainWindow, Page, ProductionAdapter,
};
use bonder_core::bond::{Defect, Verdict};
use bonder_core::state::{Command, CommandRefusal, MachineState};
use bonder_runtime::{CommandError, Snapshot};
use slint::ComponentHandle;
use std::rc::Rc;

/// Bonds in the production page's strip.
pub const STRIP_LEN: usize = 50;
/// Faded bonds behind the live curve.
pub const LIVE_FADED: usize = 10;
/// Capillary life used at which the warning shows, %.
pub const CAPILLARY_WARN_PCT: f64 = 90.0;

/// The production page's own state.
#[derive(Debug, Default)]
pub(crate) struct ProductionState {
    /// Result of the last command, and its level (0 fine, 1 refused/failed).
    pub command: Option<(Message, i32)>,
    /// Pixel size the live plot was last drawn at.
    pub live_size: (i32, i32),
}

pub(crate) fn wire(inner: &Rc<Inner>, w: &MainWindow) {
    let p = w.global::<ProductionAdapter>();
    let i = Rc::downgrade(inner);
    p.on_command(move |c| {
        if let Some(inner) = i.upgrade() {
            send_command(&inner, c);
        }
    });
    let i = Rc::downgrade(inner);
    p.on_open_bond(move |seq| {
        if let Some(inner) = i.upgrade() {
            super::curves::open_bond(&inner, seq as u64);
            if let Some(w) = inner.window.upgrade() {
                w.global::<AppAdapter>().set_page(Page::Curves);
            }
        }
    });
}

fn command_of(c: MachineCommand) -> (Command, &'static str) {
    match c {
        MachineCommand::Start => (Command::Start, "cmd-start"),
        MachineCommand::Pause => (Command::Pause, "cmd-pause"),
        MachineCommand::Stop => (Command::Stop, "cmd-stop"),
        MachineCommand::ResetAlarm => (Command::ResetAlarm, "cmd-reset-alarm"),
    }
}

fn command_key(cmd: Command) -> &'static str {
    match cmd {
        Command::Start => "cmd-start",
        Command::Pause => "cmd-pause",
        Command::Stop => "cmd-stop",
        _ => "cmd-reset-alarm",
    }
}

/// Sends a command through the runtime on its Tokio runtime; the result comes back as a
/// [`UiMsg`] (the UI never waits for the link).
fn send_command(inner: &Inner, c: MachineCommand) {
    inner.touch();
    let (cmd, key) = command_of(c);
    let Some(role) = inner.role() else {
        inner.state.borrow_mut().production.command = Some((Message::new("cmd-needs-login"), 1));
        return;
    };
    if !Permission::RunMachine.allows(role) {
        inner.audit(AuditEvent::Refused {
            permission: Permission::RunMachine,
            what: format!("{cmd:?}"),
        });
        inner.state.borrow_mut().production.command = Some((
            Message::with(
                "cmd-role-refused",
                vec![("role", Arg::key(format!("role-{}", role.name())))],
            ),
            1,
        ));
        return;
    }
    inner.audit(AuditEvent::MachineCommand(cmd));
    inner.state.borrow_mut().production.command = Some((
        Message::with("cmd-sending", vec![("cmd", Arg::key(key))]),
        0,
    ));
    let station = inner.station.clone();
    let tx = inner.tx.clone();
    inner.rt.spawn(async move {
        let result = station.command(cmd).await;
        // The UI may be gone; nothing to tell then.
        let _ = tx.send(UiMsg::CommandDone(cmd, result));
    });
    if let Some(w) = inner.window.upgrade() {
        refresh(inner, &w);
    }
}

/// Shows a command's result.
pub(crate) fn command_done(inner: &Inner, cmd: Command, result: Result<(), CommandError>) {
    let name = Arg::key(command_key(cmd));
    let msg = match &result {
        Ok(()) => (Message::with("cmd-done", vec![("cmd", name)]), 0),
        Err(CommandError::Refused(r)) => {
            let reason = match r {
                CommandRefusal::WrongState => "refusal-wrong-state",
                CommandRefusal::InvalidRecipe => "refusal-invalid-recipe",
                CommandRefusal::Unknown | CommandRefusal::Other(_) => "refusal-unknown",
            };
            (
                Message::with(
                    "cmd-refused",
                    vec![("cmd", name), ("reason", Arg::key(reason))],
                ),
                1,
            )
        }
        Err(CommandError::Interlocked(why)) => {
            tracing::warn!("command {cmd:?}: {why}");
            (Message::with("cmd-interlocked", vec![("cmd", name)]), 1)
        }
        Err(e) => {
            tracing::warn!("command {cmd:?}: {e}");
            (Message::with("cmd-failed", vec![("cmd", name)]), 1)
        }
    };
    inner.state.borrow_mut().production.command = Some(msg);
    inner.state.borrow_mut().last_status = None;
}

/// Machine state text and level (0 grey, 2 alarm colour) for the banner and top bar.
pub(crate) fn state_text(t: Texts, s: &Snapshot) -> (String, i32) {
    match s.machine_state {
        Some(m) => (
            t.t(&format!("state-{}", m.name())),
            if m.is_abnormal() { 2 } else { 0 },
        ),
        None => (t.t("state-unknown"), 0),
    }
}

fn row(label: String, value: String, level: i32) -> CountRow {
    CountRow {
        label: label.into(),
        value: value.into(),
        level,
    }
}

/// Counters, commands, conditions, strip (5 Hz).
pub(crate) fn refresh(inner: &Inner, w: &MainWindow) {
    let t = inner.texts();
    let s = inner.state.borrow();
    let p = w.global::<ProductionAdapter>();
    let snap = &s.snapshot;
    let c = &snap.counters;
    p.set_recipe_id(snap.recipe_id.clone().into());
    let work_order = inner
        .opts
        .work_order
        .lock()
        .map(|w| w.clone())
        .unwrap_or_default();
    p.set_work_order(if work_order.is_empty() {
        t.t("work-order-none").into()
    } else {
        work_order.into()
    });
    let (state, level) = state_text(t, snap);
    p.set_state_text(state.into());
    p.set_state_level(level);
    p.set_counters(model(vec![
        row(t.t("counter-wires"), c.wires.to_string(), 0),
        row(
            t.t("counter-yield"),
            format!("{} %", num(c.yield_pct, 2)),
            0,
        ),
        row(
            t.t("counter-rejected-wires"),
            c.rejected_wires.to_string(),
            0,
        ),
        row(
            format!("{} ({})", t.t("counter-wire-rate"), t.t("unit-per-min")),
            num(c.wire_rate_per_min, 0),
            0,
        ),
        row(t.t("counter-uph"), num(c.uph, 0), 0),
        row(t.t("counter-units"), c.units.to_string(), 0),
    ]));
    p.set_rejects(model(
        Defect::ALL
            .iter()
            .map(|d| {
                row(
                    t.t(&format!("defect-{}", d.name())),
                    c.rejects[d.index()].to_string(),
                    0,
                )
            })
            .collect(),
    ));
    let machine = snap.machine_state;
    let can = |cmd: Command| machine.is_some_and(|m: MachineState| m.accept(cmd).is_some());
    // An interlock (the store failing) refuses start: the button says so by being off.
    p.set_can_start(can(Command::Start) && snap.interlock.is_none());
    p.set_can_pause(can(Command::Pause));
    p.set_can_stop(can(Command::Stop));
    p.set_can_reset(can(Command::ResetAlarm));
    let (msg, level) = s
        .production
        .command
        .as_ref()
        .map(|(m, l)| (Some(m.clone()), *l))
        .unwrap_or((None, 0));
    p.set_command_result(message_text(t, &msg).into());
    p.set_command_level(level);
    p.set_conditions(model(conditions(inner, t, snap)));
    let selected = s.curves.selected;
    p.set_strip(model(
        s.ring
            .last(STRIP_LEN)
            .map(|e| {
                let b = &e.bond;
                let verdict = verdict_text(t, b.judgement.verdict);
                BondCell {
                    seq: b.seq as i32,
                    abnormal: !b.judgement.verdict.is_ok(),
                    selected: selected == Some(b.seq),
                    label: format!(
                        "{} · {verdict}",
                        t.ta(
                            "curves-bond",
                            &[
                                ("seq", b.seq.to_string()),
                                ("unit", b.event.unit_no.to_string()),
                                ("wire", b.event.wire_no.to_string())
                            ]
                        )
                    )
                    .into(),
                }
            })
            .collect(),
    ));
    p.set_strip_title(
        t.ta("bond-strip-title", &[("n", STRIP_LEN.to_string())])
            .into(),
    );
}

/// "Good" or the defect's name.
pub(crate) fn verdict_text(t: Texts, v: Verdict) -> String {
    match v {
        Verdict::Ok => t.t("verdict-ok"),
        Verdict::Reject(d) => t.t(&format!("defect-{}", d.name())),
    }
}

/// Capillary life, heater and forming gas against the recipe; the newest wire's
/// predicted strength beside the newest tested one.
fn conditions(inner: &Inner, t: Texts, snap: &Snapshot) -> Vec<Condition> {
    let mut c = consumables(inner, t, snap);
    if let Some(h) = inner.opts.health.as_ref() {
        let p = h.panel();
        let reading = match (p.shear, p.pull) {
            (Some(s), Some(pl)) => t.ta(
                "strength-reading",
                &[("shear", num(s.0, 1)), ("pull", num(pl.0, 1))],
            ),
            _ => t.t("strength-none"),
        };
        let note = if p.tested.results > 0 {
            t.ta(
                "strength-tested",
                &[
                    ("shear", p.tested.shear_gf.map_or("–".into(), |v| num(v, 1))),
                    ("pull", p.tested.pull_gf.map_or("–".into(), |v| num(v, 1))),
                ],
            )
        } else {
            t.t("health-tested-none")
        };
        // Below the recipe's minimum is abnormal.
        let low = p
            .shear
            .is_some_and(|s| s.0 < inner.opts.recipe.limits.shear_min_gf.0)
            || p.pull
                .is_some_and(|s| s.0 < inner.opts.recipe.limits.pull_min_gf.0);
        c.push(Condition {
            title: t.t("strength").into(),
            reading: reading.into(),
            note: note.into(),
            level: if low { 2 } else { 0 },
            fraction: -1.0,
        });
    }
    c
}

fn consumables(inner: &Inner, t: Texts, snap: &Snapshot) -> Vec<Condition> {
    let recipe = &inner.opts.recipe;
    let Some(st) = snap.status else {
        return ["capillary", "heater", "forming-gas"]
            .iter()
            .map(|k| Condition {
                title: t.t(k).into(),
                reading: t.t("no-reading").into(),
                note: "".into(),
                level: 0,
                fraction: -1.0,
            })
            .collect();
    };
    let life = f64::from(recipe.capillary_life_touchdowns.max(1));
    let used = f64::from(st.capillary_touchdowns);
    let pct = used / life * 100.0;
    let (cap_level, cap_note) = if pct >= 100.0 {
        (2, t.t("capillary-alarm"))
    } else if pct >= CAPILLARY_WARN_PCT {
        (1, t.t("capillary-warning"))
    } else {
        (0, String::new())
    };
    let capillary = Condition {
        title: t.t("capillary").into(),
        reading: t
            .ta(
                "capillary-touchdowns",
                &[
                    ("used", st.capillary_touchdowns.to_string()),
                    ("life", recipe.capillary_life_touchdowns.to_string()),
                    ("pct", num(pct, 1)),
                ],
            )
            .into(),
        note: cap_note.into(),
        level: cap_level,
        fraction: (used / life) as f32,
    };
    let set_c = recipe.heater_temp_c.0;
    let band_c = inner.opts.heater_band_c;
    let actual_c = f64::from(st.heater_temp_c);
    let heater_ok = (actual_c - set_c).abs() <= band_c;
    let heater = Condition {
        title: t.t("heater").into(),
        reading: t
            .ta(
                "heater-reading",
                &[
                    ("actual", num(actual_c, 1)),
                    ("set", num(set_c, 0)),
                    ("band", num(band_c, 0)),
                ],
            )
            .into(),
        note: if heater_ok {
            String::new()
        } else {
            t.t("heater-out-of-band")
        }
        .into(),
        level: if heater_ok { 0 } else { 1 },
        fraction: -1.0,
    };
    let gas = if recipe.wire.material.needs_forming_gas() {
        let set = recipe.forming_gas_l_min.0;
        let actual = f64::from(st.forming_gas_l_min);
        let low = actual < set * inner.opts.forming_gas_min_fraction;
        Condition {
            title: t.t("forming-gas").into(),
            reading: t
                .ta(
                    "forming-gas-reading",
                    &[("actual", num(actual, 2)), ("set", num(set, 2))],
                )
                .into(),
            note: if low {
                t.t("forming-gas-low")
            } else {
                String::new()
            }
            .into(),
            level: if low { 1 } else { 0 },
            fraction: -1.0,
        }
    } else {
        Condition {
            title: t.t("forming-gas").into(),
            reading: t.t("forming-gas-not-needed").into(),
            note: "".into(),
            level: 0,
            fraction: -1.0,
        }
    };
    vec![capillary, heater, gas]
}

/// Redraws the live curve panel when a bond arrived (called every frame).
pub(crate) fn refresh_live(inner: &Inner, w: &MainWindow) {
    let app = w.global::<AppAdapter>();
    if app.get_page() != Page::Production || !app.get_logged_in() {
        return;
    }
    let p = w.global::<ProductionAdapter>();
    let (width, height) = (p.get_live_plot_width_px(), p.get_live_plot_height_px());
    if width < 32 || height < 32 {
        return;
    }
    let mut s = inner.state.borrow_mut();
    let size = (width, height);
    if (!s.live_dirty && s.production.live_size == size) || s.ring.is_empty() {
        return;
    }
    s.live_dirty = false;
    s.production.live_size = size;
    let pos = s.ring.len() - 1;
    let Some(latest) = s.ring.get(pos) else {
        return;
    };
    let kind = latest.bond.event.kind;
    let abnormal = !latest.bond.judgement.verdict.is_ok();
    let bond = latest.summary();
    let faded: Vec<_> = s
        .ring
        .previous_of_kind(pos, kind, LIVE_FADED)
        .iter()
        .map(|e| e.summary())
        .collect();
    let band = s.ring.band(kind).map(|(_, b)| b);
    drop(s);
    let faded_refs: Vec<_> = faded.iter().map(|f| f.as_ref()).collect();
    let input = PlotInput {
        bond: Some(&bond),
        bond_abnormal: abnormal,
        faded: &faded_refs,
        band: band.as_deref(),
        view: None,
        compact: true,
    };
    match plot::render(&input, width as u32, height as u32) {
        Ok(buf) => p.set_live_plot(slint::Image::from_rgb8(buf)),
        Err(e) => tracing::warn!("{e}"),
    }
}
