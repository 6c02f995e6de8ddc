//! `AlarmsAdapter`: active alarms (from the snapshot) with acknowledgement, and the
//! history of raised/cleared events. The history is **in memory** until the store lands.

use super::model;
use crate::app::{Inner, clock, message_text};
use crate::tr::{Message, Texts};
use crate::ui::{AlarmEvent, AlarmRow, AlarmsAdapter, MainWindow};
use bonder_core::AlarmCode;
use slint::ComponentHandle;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::SystemTime;

/// Alarm events kept in the history.
pub const HISTORY_LEN: usize = 500;

#[derive(Debug, Clone)]
struct Event {
    time: SystemTime,
    code: u16,
    raised: bool,
}

/// Alarm history and acknowledgements.
#[derive(Debug, Default)]
pub(crate) struct AlarmBook {
    history: VecDeque<Event>,
    /// When each active alarm was raised (as seen by the UI).
    since: HashMap<u16, SystemTime>,
    /// Who acknowledged an active alarm, and when.
    acked: HashMap<u16, (String, SystemTime)>,
    message: Option<Message>,
}

impl AlarmBook {
    /// Records a raised or cleared alarm.
    pub fn on_event(&mut self, code: u16, raised: bool) {
        let now = SystemTime::now();
        if raised {
            self.since.insert(code, now);
            self.acked.remove(&code);
        } else {
            self.since.remove(&code);
            self.acked.remove(&code);
        }
        if self.history.len() == HISTORY_LEN {
            self.history.pop_back();
        }
        self.history.push_front(Event {
            time: now,
            code,
            raised,
        });
    }
}

fn key(code: u16) -> String {
    match AlarmCode::from_code(code) {
        Some(AlarmCode::Other(_)) | None => "alarm-unknown".into(),
        Some(a) => format!("alarm-{}", a.code()),
    }
}

/// "Alarm 104: Wire broken or wire out".
fn title(t: Texts, code: u16) -> String {
    format!(
        "{}: {}",
        t.ta("alarm-code", &[("code", code.to_string())]),
        t.t(&key(code))
    )
}

/// The banner's text: the newest active alarm and its first action.
pub(crate) fn banner_text(t: Texts, active: &[u16]) -> String {
    match active.last() {
        Some(&code) => format!(
            "{} · {}",
            title(t, code),
            t.t(&format!("{}-action", key(code)))
        ),
        None => String::new(),
    }
}

pub(crate) fn wire(inner: &Rc<Inner>, w: &MainWindow) {
    let i = Rc::downgrade(inner);
    w.global::<AlarmsAdapter>().on_acknowledge(move |code| {
        if let Some(inner) = i.upgrade() {
            acknowledge(&inner, code as u16);
            if let Some(w) = inner.window.upgrade() {
                refresh(&inner, &w);
            }
        }
    });
}

/// Acknowledges an active alarm for the logged-in user (recorded in the audit trail).
pub(crate) fn acknowledge(inner: &Inner, code: u16) {
    inner.touch();
    let user = inner.state.borrow().user.clone();
    let Some(user) = user else {
        inner.state.borrow_mut().alarms.message = Some(Message::new("alarm-ack-needs-login"));
        return;
    };
    inner.audit(crate::store::AuditEvent::AlarmAck { code });
    let mut s = inner.state.borrow_mut();
    s.alarms.acked.insert(code, (user.name, SystemTime::now()));
    s.alarms.message = None;
}

pub(crate) fn refresh(inner: &Inner, w: &MainWindow) {
    let t = inner.texts();
    let s = inner.state.borrow();
    let a = w.global::<AlarmsAdapter>();
    let book = &s.alarms;
    a.set_active(model(
        s.snapshot
            .active_alarms
            .iter()
            .rev()
            .map(|&code| {
                let acked = book.acked.get(&code);
                AlarmRow {
                    code: i32::from(code),
                    title: title(t, code).into(),
                    action: t.t(&format!("{}-action", key(code))).into(),
                    since: book
                        .since
                        .get(&code)
                        .map(|&at| t.ta("alarm-since", &[("time", clock(at))]))
                        .unwrap_or_default()
                        .into(),
                    acknowledged: acked.is_some(),
                    ack_text: acked
                        .map(|(user, at)| {
                            t.ta(
                                "alarm-acked-by",
                                &[("user", user.clone()), ("time", clock(*at))],
                            )
                        })
                        .unwrap_or_default()
                        .into(),
                }
            })
            .collect(),
    ));
    a.set_history(model(
        book.history
            .iter()
            .map(|e| AlarmEvent {
                time: clock(e.time).into(),
                title: title(t, e.code).into(),
                event: t
                    .t(if e.raised {
                        "alarm-event-raised"
                    } else {
                        "alarm-event-cleared"
                    })
                    .into(),
                raised: e.raised,
            })
            .collect(),
    ));
    a.set_message(message_text(t, &book.message).into());
}
