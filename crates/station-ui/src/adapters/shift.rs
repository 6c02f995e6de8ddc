//! `ShiftAdapter`: this shift's figures (counters since the shift started), handover
//! notes and the previous shifts (through [`crate::store::ShiftLog`]).

use super::{model, num};
use crate::app::{Inner, clock, message_text};
use crate::store::ShiftRecord;
use crate::tr::{Arg, Message, Texts};
use crate::ui::{CountRow, MainWindow, ShiftAdapter, ShiftRow};
use bonder_core::counters::CounterSnapshot;
use slint::ComponentHandle;
use std::rc::Rc;
use std::time::SystemTime;

/// Previous shifts listed.
pub const PREVIOUS_SHIFTS: usize = 20;

/// The current shift.
#[derive(Debug)]
pub(crate) struct ShiftState {
    started_at: SystemTime,
    started_by: String,
    /// Counters when the shift started.
    start: CounterSnapshot,
    message: Option<Message>,
}

impl ShiftState {
    pub fn new(start: CounterSnapshot) -> ShiftState {
        ShiftState {
            started_at: SystemTime::now(),
            started_by: String::new(),
            start,
            message: None,
        }
    }

    /// Whether nobody was logged in when the shift started.
    pub fn started_by_nobody(&self) -> bool {
        self.started_by.is_empty()
    }

    /// Who started the shift (the first login).
    pub fn set_started_by(&mut self, name: &str) {
        self.started_by = name.into();
    }
}

/// Counters over a shift: `now` minus `start` (rates are those of `now`).
pub fn shift_counters(start: &CounterSnapshot, now: &CounterSnapshot) -> CounterSnapshot {
    let wires = now.wires.saturating_sub(start.wires);
    let rejected_wires = now.rejected_wires.saturating_sub(start.rejected_wires);
    let mut rejects = [0; 6];
    for (i, r) in rejects.iter_mut().enumerate() {
        *r = now.rejects[i].saturating_sub(start.rejects[i]);
    }
    CounterSnapshot {
        bonds: now.bonds.saturating_sub(start.bonds),
        wires,
        rejected_wires,
        rejects,
        units: now.units.saturating_sub(start.units),
        yield_pct: if wires == 0 {
            100.0
        } else {
            (wires - rejected_wires) as f64 / wires as f64 * 100.0
        },
        wire_rate_per_min: now.wire_rate_per_min,
        uph: now.uph,
    }
}

pub(crate) fn wire(inner: &Rc<Inner>, w: &MainWindow) {
    let i = Rc::downgrade(inner);
    w.global::<ShiftAdapter>().on_end_shift(move || {
        if let Some(inner) = i.upgrade() {
            end_shift(&inner);
            if let Some(w) = inner.window.upgrade() {
                refresh(&inner, &w);
            }
        }
    });
}

fn end_shift(inner: &Inner) {
    inner.touch();
    let Some(w) = inner.window.upgrade() else {
        return;
    };
    let user = inner.state.borrow().user.clone();
    let Some(user) = user else {
        inner.state.borrow_mut().shift.message = Some(Message::new("shift-needs-login"));
        return;
    };
    let adapter = w.global::<ShiftAdapter>();
    let now = inner.station.snapshot().counters;
    let record = {
        let s = inner.state.borrow();
        ShiftRecord {
            started_at: s.shift.started_at,
            ended_at: SystemTime::now(),
            started_by: s.shift.started_by.clone(),
            ended_by: user.name.clone(),
            counters: shift_counters(&s.shift.start, &now),
            notes: adapter.get_notes().to_string(),
        }
    };
    match inner.opts.shifts.close(record) {
        Ok(()) => {
            inner.audit(crate::store::AuditEvent::ShiftHandover);
            let mut s = inner.state.borrow_mut();
            s.shift = ShiftState::new(now);
            s.shift.started_by = user.name;
            s.shift.message = Some(Message::new("shift-ended"));
            adapter.set_notes("".into());
        }
        Err(e) => {
            tracing::error!("shift log: {e}");
            inner.state.borrow_mut().shift.message = Some(Message::with(
                "recipes-store-failed",
                vec![("detail", Arg::from(e.to_string()))],
            ));
        }
    }
}

fn tile(label: String, value: String) -> CountRow {
    CountRow {
        label: label.into(),
        value: value.into(),
        level: 0,
    }
}

/// The figures of the current shift (5 Hz).
pub(crate) fn refresh_summary(inner: &Inner, w: &MainWindow) {
    let t = inner.texts();
    let s = inner.state.borrow();
    let c = shift_counters(&s.shift.start, &s.snapshot.counters);
    let a = w.global::<ShiftAdapter>();
    a.set_summary(model(vec![
        tile(t.t("counter-wires"), c.wires.to_string()),
        tile(t.t("counter-rejected-wires"), c.rejected_wires.to_string()),
        tile(t.t("counter-yield"), format!("{} %", num(c.yield_pct, 2))),
        tile(t.t("counter-units"), c.units.to_string()),
    ]));
    a.set_started(
        t.ta(
            "shift-started",
            &[
                ("time", clock(s.shift.started_at)),
                ("user", s.shift.started_by.clone()),
            ],
        )
        .into(),
    );
    a.set_message(message_text(t, &s.shift.message).into());
}

/// Summary and the previous shifts.
pub(crate) fn refresh(inner: &Inner, w: &MainWindow) {
    refresh_summary(inner, w);
    let t = inner.texts();
    let previous = inner
        .opts
        .shifts
        .previous(PREVIOUS_SHIFTS)
        .unwrap_or_else(|e| {
            tracing::error!("shift log: {e}");
            Vec::new()
        });
    w.global::<ShiftAdapter>()
        .set_previous(model(previous.iter().map(|r| shift_row(t, r)).collect()));
}

fn shift_row(t: Texts, r: &ShiftRecord) -> ShiftRow {
    ShiftRow {
        title: t
            .ta(
                "shift-row",
                &[
                    ("start", clock(r.started_at)),
                    ("end", clock(r.ended_at)),
                    ("user", r.ended_by.clone()),
                    ("wires", r.counters.wires.to_string()),
                    ("yield", num(r.counters.yield_pct, 2)),
                ],
            )
            .into(),
        notes: r.notes.clone().into(),
    }
}
