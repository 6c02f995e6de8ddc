//! `GemAdapter`: the fab host's link (SECS/GEM) — communication and control states, the
//! operator's ONLINE/OFFLINE and LOCAL/REMOTE switches (`switch_remote`), the spool with
//! purge (`purge_spool`), the last 100 messages in SML; and the host's terminal message
//! on every page (`AppAdapter.terminal-*`) until an operator acknowledges it; and the
//! OPC UA sessions (user, client, since) to technicians and up (`view_host_sessions`).

use super::model;
use crate::app::{Inner, UiMsg, message_text};
use crate::store::AuditEvent;
use crate::tr::{Arg, Message, Texts};
use crate::ui::{AppAdapter, GemAdapter, GemTraffic, HostSessionRow, MainWindow, Page};
use bonder_core::permissions::Permission;
use bonder_gem::{CommState, ControlState, GemStatus, PanelError};
use slint::ComponentHandle;
use std::rc::Rc;

/// What the page keeps between refreshes.
#[derive(Debug, Default)]
pub(crate) struct GemUiState {
    pub message: Option<Message>,
}

/// A panel action on the GEM task.
#[derive(Debug, Clone, Copy)]
enum Action {
    Online(bool),
    Remote(bool),
    Purge,
    AcknowledgeTerminal,
}

pub(crate) fn wire(inner: &Rc<Inner>, w: &MainWindow) {
    let g = w.global::<GemAdapter>();
    let i = Rc::downgrade(inner);
    g.on_set_online(move |on| act(&i, Action::Online(on)));
    let i = Rc::downgrade(inner);
    g.on_set_remote(move |on| act(&i, Action::Remote(on)));
    let i = Rc::downgrade(inner);
    g.on_purge_spool(move || act(&i, Action::Purge));
    let i = Rc::downgrade(inner);
    w.global::<AppAdapter>()
        .on_acknowledge_terminal(move || act(&i, Action::AcknowledgeTerminal));
}

fn act(inner: &std::rc::Weak<Inner>, a: Action) {
    let Some(inner) = inner.upgrade() else {
        return;
    };
    inner.touch();
    let Some(gem) = inner.opts.gem.clone() else {
        return;
    };
    let (badge, role) = (inner.badge(), inner.role());
    let needs = match a {
        Action::Online(_) | Action::Remote(_) => {
            Some((Permission::SwitchRemote, "gem-switch-needs"))
        }
        Action::Purge => Some((Permission::PurgeSpool, "gem-purge-needs")),
        Action::AcknowledgeTerminal => None,
    };
    if let Some((p, key)) = needs {
        if !p.allows_opt(role) {
            inner.audit(AuditEvent::Refused {
                permission: p,
                what: format!("gem:{a:?}"),
            });
            let role_key = format!("role-{}", role.map_or("operator", |r| r.name()));
            inner.state.borrow_mut().gem.message =
                Some(Message::with(key, vec![("role", Arg::key(role_key))]));
            refresh_now(&inner);
            return;
        }
    }
    let tx = inner.tx.clone();
    let by = if badge.is_empty() {
        "operator".to_string()
    } else {
        badge
    };
    inner.rt.spawn(async move {
        let r = match (a, role) {
            (Action::Online(on), Some(role)) => gem.set_online(on, &by, role).await,
            (Action::Remote(on), Some(role)) => gem.set_remote(on, &by, role).await,
            (Action::Purge, Some(role)) => gem.purge_spool(&by, role).await,
            (Action::AcknowledgeTerminal, _) => gem.acknowledge_terminal(&by).await,
            (_, None) => Err(PanelError::Stopped),
        };
        let _ = tx.send(UiMsg::Gem(r));
    });
}

fn refresh_now(inner: &Inner) {
    if let Some(w) = inner.window.upgrade() {
        refresh(inner, &w);
    }
}

/// The result of a panel action.
pub(crate) fn done(inner: &Inner, r: Result<(), PanelError>) {
    inner.state.borrow_mut().gem.message = Some(match r {
        Ok(()) => Message::new("gem-done"),
        Err(PanelError::NotCommunicating) => Message::new("gem-not-communicating"),
        Err(e) => Message::with("gem-failed", vec![("why", Arg::Text(e.to_string()))]),
    });
    refresh_now(inner);
}

fn comm_key(c: CommState) -> &'static str {
    match c {
        CommState::Communicating => "gem-comm-communicating",
        CommState::WaitCra => "gem-comm-wait",
        CommState::NotCommunicating => "gem-comm-not",
    }
}

fn control_key(c: ControlState) -> &'static str {
    match c {
        ControlState::EquipmentOffline => "gem-control-1",
        ControlState::AttemptOnline => "gem-control-2",
        ControlState::HostOffline => "gem-control-3",
        ControlState::OnlineLocal => "gem-control-4",
        ControlState::OnlineRemote => "gem-control-5",
    }
}

/// The terminal banner (every page) and, while the GEM page is shown, the page.
pub(crate) fn refresh(inner: &Inner, w: &MainWindow) {
    let t: Texts = inner.texts();
    let app = w.global::<AppAdapter>();
    let g = w.global::<GemAdapter>();
    let status: Option<GemStatus> = inner
        .opts
        .gem
        .as_ref()
        .map(|gem| gem.status().borrow().clone());
    let terminal = status.as_ref().and_then(|s| s.terminal.as_ref());
    app.set_terminal_active(terminal.is_some());
    app.set_terminal_text(terminal.map(|m| m.text.clone()).unwrap_or_default().into());
    if app.get_page() != Page::Gem {
        return;
    }
    refresh_sessions(inner, t, &g);
    let (Some(gem), Some(s)) = (inner.opts.gem.as_ref(), status) else {
        g.set_available(false);
        return;
    };
    let role = inner.role();
    g.set_available(true);
    g.set_comm_text(t.t(comm_key(s.comm)).into());
    g.set_control_text(t.t(control_key(s.control)).into());
    g.set_host_text(
        s.host
            .map_or_else(|| t.t("gem-host-none"), |h| h.to_string())
            .into(),
    );
    g.set_online(s.control.is_online() || s.control == ControlState::HostOffline);
    g.set_remote(s.remote);
    g.set_may_switch(Permission::SwitchRemote.allows_opt(role));
    g.set_may_purge(Permission::PurgeSpool.allows_opt(role) && s.spool_count > 0);
    g.set_spool_text(
        t.ta(
            "gem-spool-count",
            &[
                ("count", s.spool_count.to_string()),
                ("total", s.spool_total.to_string()),
            ],
        )
        .into(),
    );
    g.set_message(message_text(t, &inner.state.borrow().gem.message).into());
    let rows: Vec<GemTraffic> = gem
        .recent()
        .into_iter()
        .rev()
        .map(|m| GemTraffic {
            time: crate::app::clock(m.time).into(),
            dir: match m.direction {
                bonder_secs::session::Direction::Sent => "→",
                bonder_secs::session::Direction::Received => "←",
            }
            .into(),
            sml: m.sml.into(),
        })
        .collect();
    g.set_traffic(model(rows));
}

/// The OPC UA sessions: to those who may see them (`view_host_sessions`), with a note
/// when the list is empty, the server is off or not running.
fn refresh_sessions(inner: &Inner, t: Texts, g: &GemAdapter<'_>) {
    let role = inner.role();
    let (visible, note, rows) = if !Permission::ViewHostSessions.allows_opt(role) {
        let role_key = format!("role-{}", role.map_or("operator", |r| r.name()));
        let m = Message::with("gem-sessions-needs", vec![("role", Arg::key(role_key))]);
        (false, m.text(t), Vec::new())
    } else {
        match inner.opts.host_sessions.as_ref().map(|h| h.list()) {
            None => (false, t.t("gem-sessions-off"), Vec::new()),
            Some(None) => (false, t.t("gem-sessions-down"), Vec::new()),
            Some(Some(list)) if list.is_empty() => (true, t.t("gem-sessions-none"), Vec::new()),
            Some(Some(list)) => (true, String::new(), list),
        }
    };
    let now = std::time::SystemTime::now();
    let rows: Vec<HostSessionRow> = rows
        .into_iter()
        .map(|s| HostSessionRow {
            user: s.user.into(),
            client: s.client.into(),
            since: since_text(s.since, now).into(),
            security: s.security.into(),
        })
        .collect();
    g.set_sessions_visible(visible);
    g.set_sessions_note(note.into());
    g.set_sessions(model(rows));
}

/// `14:03:07` for today, `11-30 22:15` for an earlier day (local time).
fn since_text(t: std::time::SystemTime, now: std::time::SystemTime) -> String {
    let tz = jiff::tz::TimeZone::system();
    let day = |t: std::time::SystemTime| {
        jiff::Timestamp::try_from(t)
            .map(|ts| ts.to_zoned(tz.clone()).date())
            .ok()
    };
    if day(t) == day(now) {
        crate::app::clock(t)
    } else {
        let ts = jiff::Timestamp::try_from(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let z = ts.to_zoned(tz.clone());
        format!(
            "{:02}-{:02} {:02}:{:02}",
            z.month(),
            z.day(),
            z.hour(),
            z.minute()
        )
    }
}
