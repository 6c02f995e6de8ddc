//! The UI's state and its heartbeat: a timer pulls the runtime's snapshot and drains the
//! bond events (never blocking), and refreshes the adapters.

use crate::adapters;
use crate::ring::BondRing;
use crate::store::{
    AccountChange, AuditEntry, AuditEvent, Role, SignInAnswer, StoreError, UserRecord,
};
use crate::tr::{Message, Texts};
use crate::ui::{AppAdapter, MainWindow, Page, TextUtil};
use crate::users::SessionUser;
use crate::{UiError, UiOptions};
use bonder_core::state::Command;
use bonder_i18n::Lang;
use bonder_runtime::{CommandError, Snapshot, Station, StationEvent};
use slint::ComponentHandle;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant, SystemTime};
use tokio::runtime::Handle;
use tokio::sync::broadcast;

/// How often the UI timer runs (curves are redrawn at most this often).
pub const FRAME_INTERVAL: Duration = Duration::from_millis(33);
/// How often counters, state and alarms are refreshed.
pub const STATUS_INTERVAL: Duration = Duration::from_millis(200);

/// What background tasks send back to the UI thread.
#[derive(Debug)]
pub(crate) enum UiMsg {
    CommandDone(Command, Result<(), CommandError>),
    /// A GEM panel action's result.
    Gem(Result<(), bonder_gem::PanelError>),
    Changeover(Result<Option<adapters::changeover::CoNote>, adapters::changeover::CoNote>),
    /// The user directory's answer to a login attempt.
    Login {
        badge: String,
        result: Result<SignInAnswer, StoreError>,
    },
    /// The user directory's answer to an account change.
    UserChanged {
        user: UserRecord,
        change: AccountChange,
        result: Result<(), StoreError>,
    },
    /// The user directory's answer to adding a user.
    UserAdded {
        user: UserRecord,
        first_admin: bool,
        result: Result<(), StoreError>,
    },
}

/// Everything the UI knows, owned by the UI thread.
#[derive(Debug)]
pub(crate) struct State {
    pub lang: Lang,
    pub user: Option<SessionUser>,
    pub last_activity: Instant,
    /// Shown on the login page after an idle lock.
    pub locked_by_idle: bool,
    pub snapshot: Snapshot,
    pub last_status: Option<Instant>,
    pub ring: BondRing,
    /// A bond arrived since the live plot was drawn.
    pub live_dirty: bool,
    pub curves: adapters::curves::CurvesState,
    pub alarms: adapters::alarms::AlarmBook,
    pub production: adapters::production::ProductionState,
    pub recipes: adapters::recipes::RecipesState,
    pub shift: adapters::shift::ShiftState,
    pub changeover: adapters::changeover::ChangeoverUiState,
    pub camera: adapters::camera::CameraUiState,
    pub session: adapters::session::SessionState,
    pub gem: adapters::gem::GemUiState,
}

/// Shared by every callback: the window, the station, the options and the state.
pub(crate) struct Inner {
    pub window: slint::Weak<MainWindow>,
    pub station: Arc<Station>,
    pub rt: Handle,
    pub opts: UiOptions,
    pub state: RefCell<State>,
    events: RefCell<broadcast::Receiver<StationEvent>>,
    pub tx: mpsc::Sender<UiMsg>,
    rx: RefCell<mpsc::Receiver<UiMsg>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner").finish_non_exhaustive()
    }
}

impl Inner {
    /// The texts of the current language.
    pub fn texts(&self) -> Texts {
        Texts(self.state.borrow().lang)
    }

    /// Notes user activity (for the idle lock).
    pub fn touch(&self) {
        self.state.borrow_mut().last_activity = Instant::now();
    }

    /// The logged-in user's role.
    pub fn role(&self) -> Option<Role> {
        self.state.borrow().user.as_ref().map(|u| u.role)
    }

    /// The logged-in user's badge (empty when nobody is).
    pub fn badge(&self) -> String {
        self.state
            .borrow()
            .user
            .as_ref()
            .map(|u| u.badge.clone())
            .unwrap_or_default()
    }

    /// The logged-in user as the store's actor (`None`: nobody is logged in).
    pub fn actor(&self) -> Option<crate::store::Actor> {
        self.state
            .borrow()
            .user
            .as_ref()
            .map(|u| crate::store::Actor::new(u.badge.clone(), u.role))
    }

    /// Appends to the audit trail, as the logged-in user (a failing trail is logged,
    /// never shown).
    pub fn audit(&self, event: AuditEvent) {
        let entry = AuditEntry {
            time: SystemTime::now(),
            user: self.badge(),
            role: self.role(),
            event,
        };
        if let Err(e) = self.opts.audit.record(entry) {
            tracing::error!("audit trail: {e}");
        }
    }

    /// Refreshes every adapter (after a language switch, a login…).
    pub fn refresh_all(&self) {
        let Some(w) = self.window.upgrade() else {
            return;
        };
        let lang = self.state.borrow().lang;
        crate::tr::apply(&w, lang);
        adapters::session::refresh(self, &w);
        self.refresh_status(&w);
        adapters::recipes::refresh(self, &w);
        adapters::shift::refresh(self, &w);
        {
            let mut s = self.state.borrow_mut();
            s.live_dirty = true;
            s.curves.dirty = true;
        }
        adapters::curves::refresh(self, &w);
    }

    /// State, counters, alarms and conditions (5 Hz).
    fn refresh_status(&self, w: &MainWindow) {
        adapters::production::refresh(self, w);
        adapters::alarms::refresh(self, w);
        adapters::shift::refresh_summary(self, w);
        adapters::changeover::refresh(self, w);
        adapters::gem::refresh(self, w);
        adapters::health::refresh(self, w);
        adapters::window::refresh(self, w);
        self.refresh_top_bar(w);
    }

    fn refresh_top_bar(&self, w: &MainWindow) {
        let t = self.texts();
        let s = self.state.borrow();
        let app = w.global::<AppAdapter>();
        let (state_text, state_level) = adapters::production::state_text(t, &s.snapshot);
        app.set_state_text(state_text.into());
        app.set_state_level(state_level);
        let (link_key, link_level) = match s.snapshot.link {
            bonder_runtime::LinkState::Connecting => ("link-connecting", 0),
            bonder_runtime::LinkState::Online => ("link-online", 0),
            bonder_runtime::LinkState::Offline => ("link-offline", 1),
        };
        app.set_link_text(t.t(link_key).into());
        app.set_link_level(link_level);
        app.set_logged_in(s.user.is_some());
        if let Ok(mut op) = self.opts.operator.lock() {
            let name = s.user.as_ref().map(|u| u.name.clone());
            if *op != name {
                *op = name;
            }
        }
        app.set_user_line(t.user_line(s.user.as_ref()).into());
        let active = &s.snapshot.active_alarms;
        app.set_alarm_active(!active.is_empty());
        app.set_alarm_banner(adapters::alarms::banner_text(t, active).into());
    }

    /// One beat of the UI timer.
    pub fn tick(&self) {
        let Some(w) = self.window.upgrade() else {
            return;
        };
        // Results of background work.
        loop {
            let msg = self.rx.borrow_mut().try_recv();
            match msg {
                Ok(UiMsg::CommandDone(cmd, result)) => {
                    adapters::production::command_done(self, cmd, result);
                }
                Ok(UiMsg::Changeover(result)) => adapters::changeover::done(self, result),
                Ok(UiMsg::Gem(result)) => adapters::gem::done(self, result),
                Ok(UiMsg::Login { badge, result }) => {
                    adapters::session::login_done(self, badge, result);
                }
                Ok(UiMsg::UserAdded {
                    user,
                    first_admin,
                    result,
                }) => adapters::session::user_added(self, user, first_admin, result),
                Ok(UiMsg::UserChanged {
                    user,
                    change,
                    result,
                }) => adapters::session::user_changed(self, user, change, result),
                Err(_) => break,
            }
        }
        // Station events: bonds into the ring, alarms into the history.
        loop {
            let ev = self.events.borrow_mut().try_recv();
            match ev {
                Ok(StationEvent::Bond(b)) => {
                    let mut s = self.state.borrow_mut();
                    s.ring.push(b);
                    s.live_dirty = true;
                    if s.curves.live {
                        s.curves.dirty = true;
                    }
                }
                Ok(StationEvent::Alarm { code, raised, .. }) => {
                    self.state.borrow_mut().alarms.on_event(code, raised);
                }
                Ok(
                    StationEvent::State(_)
                    | StationEvent::Link(_)
                    | StationEvent::RecipeDownloaded { .. },
                ) => {}
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    tracing::debug!("UI skipped {n} station events");
                }
                Err(_) => break,
            }
        }
        // Idle lock.
        let idle_lock = {
            let s = self.state.borrow();
            s.user.is_some()
                && s.last_activity.elapsed() >= Duration::from_secs(self.opts.auto_lock_mins * 60)
        };
        if idle_lock {
            adapters::session::lock(self, true);
        }
        let status_due = self
            .state
            .borrow()
            .last_status
            .is_none_or(|t| t.elapsed() >= STATUS_INTERVAL);
        if status_due {
            {
                let mut s = self.state.borrow_mut();
                s.snapshot = self.station.snapshot();
                s.last_status = Some(Instant::now());
            }
            self.refresh_status(&w);
        }
        adapters::production::refresh_live(self, &w);
        adapters::curves::refresh(self, &w);
        adapters::camera::refresh(self, &w);
    }
}

/// The station UI: the window and its wiring. [`crate::run`] makes one and runs Slint's
/// event loop; tests and the screenshot renderer drive [`StationUi::tick`] themselves.
pub struct StationUi {
    window: MainWindow,
    inner: Rc<Inner>,
    timer: slint::Timer,
}

impl std::fmt::Debug for StationUi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StationUi").finish_non_exhaustive()
    }
}

impl StationUi {
    /// Creates the window (not shown) on the current thread's Slint platform and wires
    /// every adapter. Subscribes to the station's events from now on.
    pub fn new(station: Arc<Station>, rt: Handle, opts: UiOptions) -> Result<StationUi, UiError> {
        let window = MainWindow::new()?;
        let first_run = opts.users.is_empty().unwrap_or(false);
        let (tx, rx) = mpsc::channel();
        let recipe = opts.recipe.clone();
        let state = State {
            lang: opts.lang,
            user: None,
            last_activity: Instant::now(),
            locked_by_idle: false,
            snapshot: station.snapshot(),
            last_status: None,
            ring: BondRing::new(&recipe),
            live_dirty: true,
            curves: adapters::curves::CurvesState::default(),
            alarms: adapters::alarms::AlarmBook::default(),
            production: adapters::production::ProductionState::default(),
            recipes: adapters::recipes::RecipesState::new(&recipe),
            shift: adapters::shift::ShiftState::new(station.snapshot().counters),
            changeover: adapters::changeover::ChangeoverUiState::default(),
            camera: adapters::camera::CameraUiState::default(),
            gem: adapters::gem::GemUiState::default(),
            session: adapters::session::SessionState {
                first_run,
                ..Default::default()
            },
        };
        let inner = Rc::new(Inner {
            window: window.as_weak(),
            events: RefCell::new(station.subscribe()),
            station,
            rt,
            opts,
            state: RefCell::new(state),
            tx,
            rx: RefCell::new(rx),
        });
        window.global::<TextUtil>().on_drop_last(|s| {
            let mut s = s.to_string();
            s.pop();
            s.into()
        });
        let app = window.global::<AppAdapter>();
        let i = Rc::downgrade(&inner);
        app.on_navigate(move |page| {
            if let Some(inner) = i.upgrade() {
                navigate(&inner, page);
            }
        });
        let i = Rc::downgrade(&inner);
        app.on_toggle_language(move || {
            if let Some(inner) = i.upgrade() {
                inner.touch();
                let lang = inner.state.borrow().lang.toggled();
                adapters::session::set_language(&inner, lang);
            }
        });
        adapters::production::wire(&inner, &window);
        adapters::curves::wire(&inner, &window);
        adapters::alarms::wire(&inner, &window);
        adapters::recipes::wire(&inner, &window);
        adapters::shift::wire(&inner, &window);
        adapters::changeover::wire(&inner, &window);
        adapters::camera::wire(&inner, &window);
        adapters::session::wire(&inner, &window);
        adapters::gem::wire(&inner, &window);
        inner.refresh_all();
        Ok(StationUi {
            window,
            inner,
            timer: slint::Timer::default(),
        })
    }

    /// The Slint window (tests search it; `show()`/`run()` it).
    pub fn window(&self) -> &MainWindow {
        &self.window
    }

    /// Starts the UI timer ([`FRAME_INTERVAL`]); needs a running Slint event loop.
    pub fn start_timer(&self) {
        let inner = Rc::downgrade(&self.inner);
        self.timer
            .start(slint::TimerMode::Repeated, FRAME_INTERVAL, move || {
                if let Some(inner) = inner.upgrade() {
                    inner.tick();
                }
            });
    }

    /// One beat: drains station events and task results, refreshes what is due. The timer
    /// calls it; call it directly where no event loop runs (tests, screenshots).
    pub fn tick(&self) {
        self.inner.tick();
    }

    /// Forces the next [`StationUi::tick`] to refresh counters and alarms.
    pub fn refresh_now(&self) {
        self.inner.state.borrow_mut().last_status = None;
        self.inner.tick();
    }

    /// The UI's language now.
    pub fn lang(&self) -> Lang {
        self.inner.state.borrow().lang
    }

    /// Logs a user in without a PIN (screenshots only).
    pub(crate) fn force_login(&self, user: SessionUser, lang: Lang) {
        {
            let mut s = self.inner.state.borrow_mut();
            if s.shift.started_by_nobody() {
                s.shift.set_started_by(&user.name);
            }
            s.user = Some(user);
            s.lang = lang;
            s.last_activity = Instant::now();
        }
        self.inner.refresh_all();
    }

    /// Logs the user out without an audit entry (screenshots only).
    pub(crate) fn force_logout(&self, lang: Lang) {
        {
            let mut s = self.inner.state.borrow_mut();
            s.user = None;
            s.lang = lang;
        }
        self.inner.refresh_all();
    }

    /// Teaches the camera's pad template on a box of `half` px around the bond site of
    /// the newest frame, as an operator would (screenshots, demos); false without a frame.
    pub fn teach_camera_centre(&self, half: u32) -> bool {
        adapters::camera::teach_centre(&self.inner, half)
    }

    /// Opens the camera page's calibration with `pitch` entered (screenshots, demos);
    /// with `measure`, measures it as the Measure button does.
    pub fn calibrate_camera(&self, pitch: &str, measure: bool) {
        adapters::camera::calibrate_with(&self.inner, pitch, measure);
    }

    /// Shows a page.
    pub fn show_page(&self, page: Page) {
        navigate(&self.inner, page);
    }
}

fn navigate(inner: &Inner, page: Page) {
    inner.touch();
    if page == Page::User {
        adapters::session::reload_users(inner);
    }
    if let Some(w) = inner.window.upgrade() {
        w.global::<AppAdapter>().set_page(page);
    }
    {
        let mut s = inner.state.borrow_mut();
        s.curves.dirty = true;
        s.live_dirty = true;
    }
    adapters::camera::invalidate(inner);
    if page == Page::Recipes {
        adapters::recipes::reload(inner);
    }
    if page == Page::Changeover {
        adapters::changeover::reload(inner);
    }
    if page == Page::Shift {
        if let Some(w) = inner.window.upgrade() {
            adapters::shift::refresh(inner, &w);
        }
    }
}

/// Formats a wall-clock time as `HH:MM:SS` in the system's time zone: the zone is the
/// system's as jiff sees it now (re-read when its cache expires, so a changed zone needs
/// no restart) and the offset is the one in force at that instant (a time before a
/// daylight-saving change shows with the offset it had).
pub(crate) fn clock(t: SystemTime) -> String {
    clock_in(t, &jiff::tz::TimeZone::system())
}

/// [`clock`] in a given zone.
pub(crate) fn clock_in(t: SystemTime, tz: &jiff::tz::TimeZone) -> String {
    let ts = jiff::Timestamp::try_from(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let z = ts.to_zoned(tz.clone());
    format!("{:02}:{:02}:{:02}", z.hour(), z.minute(), z.second())
}

/// A message to show in a language (helper for adapters holding a [`Message`]).
pub(crate) fn message_text(t: Texts, m: &Option<Message>) -> String {
    m.as_ref().map(|m| m.text(t)).unwrap_or_default()
}

#[cfg(test)]
mod clock_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_show_with_the_offset_in_force_at_their_instant() {
        // Central Europe: UTC+1 in winter, UTC+2 from the last Sunday of March.
        let tz = jiff::tz::TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        let at = |unix: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(unix);
        // 2026-03-29 00:59:59 UTC, a second before the change, and a second after.
        assert_eq!(clock_in(at(1_774_745_999), &tz), "01:59:59");
        assert_eq!(clock_in(at(1_774_746_000), &tz), "03:00:00");
        // 2026-07-01 12:00:00 UTC in summer time.
        assert_eq!(clock_in(at(1_782_907_200), &tz), "14:00:00");
        assert_eq!(
            clock_in(at(1_782_907_200), &jiff::tz::TimeZone::UTC),
            "12:00:00"
        );
    }
}
