//! The gateway link: one MQTT session to the plant's broker, publishing from the station's
//! store (store and forward) and taking commands.
//!
//! What is published comes from the [`Outbox`] (the station's SQLite store), never from
//! memory: the broker's acknowledgements move a cursor that is saved in the store, so a
//! broker outage, a restart or a `kill -9` loses nothing; after one, the bonds from the
//! saved cursor are sent again (a reader may see a bond twice, always with the same `seq`).
//!
//! Two lanes after a (re)connect: the **backlog** (from the saved cursor up to the newest
//! bond at connect time) drains in order at a bounded rate, while the **live** lane sends
//! new bonds as they are committed.

use crate::commands::GatewayCommand;
use crate::config::{self, ConfigError, GatewayConfig};
use crate::guard::CommandGuard;
use crate::payload::{BondMsg, BondsMsg, CmdResult, StatusMsg, V, V2, ts};
use crate::signed::Signer;
use crate::topics::Topic;
use rumqttc::{AsyncClient, Event, EventLoop, LastWill, MqttOptions, Outgoing, Packet, QoS};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep};

/// Error of an [`Outbox`] implementation.
pub type OutboxError = Box<dyn std::error::Error + Send + Sync>;

/// A message queued for publishing (alarms, changeovers, shift reports).
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedMessage {
    pub id: i64,
    pub topic: Topic,
    pub payload: String,
}

/// The durable side of store and forward (the station's store implements it). Calls are
/// blocking; the link runs them on Tokio's blocking pool.
pub trait Outbox: Send + 'static {
    /// Highest bond seq the broker has acknowledged, with everything before it (0: none).
    fn bond_cursor(&mut self) -> Result<u64, OutboxError>;
    /// Saves the cursor.
    fn set_bond_cursor(&mut self, seq: u64) -> Result<(), OutboxError>;
    /// Highest bond seq stored.
    fn max_bond_seq(&mut self) -> Result<u64, OutboxError>;
    /// Bonds with `after < seq <= upto`, in seq order, at most `limit`.
    fn bonds(&mut self, after: u64, upto: u64, limit: usize) -> Result<Vec<BondMsg>, OutboxError>;
    /// Other queued messages, oldest first.
    fn messages(&mut self, limit: usize) -> Result<Vec<QueuedMessage>, OutboxError>;
    /// Removes a message the broker acknowledged.
    fn ack_message(&mut self, id: i64) -> Result<(), OutboxError>;
    /// The store epoch (contract v2); `None` publishes version-1 bonds without one.
    fn epoch(&mut self) -> Result<Option<String>, OutboxError> {
        Ok(None)
    }
}

/// A command for the station that passed every check, with who signed it and the
/// channel for its answer (`Err`: readable reason).
#[derive(Debug)]
pub struct CommandRequest {
    pub command: GatewayCommand,
    /// `None`: an unsigned version-1 command (only with `accept_unsigned`).
    pub signer: Option<Signer>,
    pub reply: oneshot::Sender<Result<(), String>>,
}

/// What the link is doing (for the UI and for tests).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GatewayState {
    pub connected: bool,
    /// Saved cursor: every bond up to here is acknowledged.
    pub acked_seq: u64,
    /// Highest bond seq sent on the live lane.
    pub live_seq: u64,
    /// Bonds still to send from the backlog.
    pub backlog: u64,
    pub connects: u64,
    pub bond_messages_acked: u64,
    pub last_error: Option<String>,
}

/// Handle on a running gateway link.
#[derive(Debug)]
pub struct Gateway {
    state: watch::Receiver<GatewayState>,
    task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// Checks the settings and starts the link task.
    pub fn start<O: Outbox>(
        cfg: GatewayConfig,
        outbox: O,
        status: watch::Receiver<StatusMsg>,
        commands: mpsc::Sender<CommandRequest>,
        guard: Arc<CommandGuard>,
    ) -> Result<Gateway, ConfigError> {
        let options = mqtt_options(&cfg)?;
        let (tx, rx) = watch::channel(GatewayState::default());
        let link = Link {
            cfg,
            options,
            outbox: Arc::new(Mutex::new(outbox)),
            status,
            commands,
            guard,
            state: tx,
        };
        let task = tokio::spawn(link.run());
        Ok(Gateway { state: rx, task })
    }

    /// The link's state now.
    pub fn state(&self) -> GatewayState {
        self.state.borrow().clone()
    }

    /// A receiver of state changes.
    pub fn watch(&self) -> watch::Receiver<GatewayState> {
        self.state.clone()
    }

    /// Stops the link (the broker publishes the last will once it notices).
    pub async fn shutdown(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

fn mqtt_options(cfg: &GatewayConfig) -> Result<MqttOptions, ConfigError> {
    // A persistent session (contract v2): commands sent while the station is briefly
    // away are delivered when it returns, then checked for `exp` like any other.
    let mut o = config::mqtt_options(cfg, cfg.client_id(""), false, 4 << 20)?;
    let will =
        serde_json::to_vec(&StatusMsg::offline(OffsetDateTime::now_utc())).unwrap_or_default();
    o.set_last_will(LastWill::new(
        cfg.station.topic(Topic::Status),
        will,
        QoS::AtLeastOnce,
        true,
    ));
    Ok(o)
}

/// What a publish was for, to act on its acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tag {
    /// Bonds `from..=to` (the whole queried range, gaps included).
    Bonds {
        from: u64,
        to: u64,
    },
    Message(i64),
    Other,
}

struct Link<O: Outbox> {
    cfg: GatewayConfig,
    options: MqttOptions,
    outbox: Arc<Mutex<O>>,
    status: watch::Receiver<StatusMsg>,
    commands: mpsc::Sender<CommandRequest>,
    guard: Arc<CommandGuard>,
    state: watch::Sender<GatewayState>,
}

/// The fields whose change republishes the status at once: state, recipe, operator, alarm.
type StatusKey = (String, Option<String>, Option<String>, Option<u16>);

/// Bookkeeping of one MQTT session.
#[derive(Default)]
struct Session {
    connected: bool,
    /// Tags of publishes handed to rumqttc, waiting for their packet id (rumqttc sends
    /// requests in order, so `Outgoing::Publish` events come in the same order).
    pending: VecDeque<Tag>,
    inflight: HashMap<u16, Tag>,
    acked: BTreeMap<u64, u64>,
    cursor: u64,
    cursor_saved: u64,
    live_seq: u64,
    backlog_next: u64,
    backlog_end: u64,
    backlog_tokens: f64,
    messages_inflight: HashSet<i64>,
    last_status: Option<StatusKey>,
    last_status_at: Option<Instant>,
    /// The store epoch, read at connect.
    epoch: Option<String>,
}

impl Session {
    fn room(&self, max: usize) -> usize {
        max.saturating_sub(self.pending.len() + self.inflight.len())
    }

    fn on_bonds_acked(&mut self, from: u64, to: u64) {
        self.acked.insert(from, to);
        while let Some((&f, &t)) = self.acked.first_key_value() {
            if f > self.cursor + 1 {
                break;
            }
            self.cursor = self.cursor.max(t);
            self.acked.remove(&f);
        }
    }
}

impl<O: Outbox> Link<O> {
    async fn ob<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut O) -> Result<T, OutboxError> + Send + 'static,
    ) -> Result<T, String> {
        let ob = self.outbox.clone();
        match tokio::task::spawn_blocking(move || {
            f(&mut ob.lock().unwrap_or_else(|p| p.into_inner()))
        })
        .await
        {
            Ok(r) => r.map_err(|e| format!("store: {e}")),
            Err(e) => Err(format!("store task: {e}")),
        }
    }

    async fn run(mut self) {
        // The last will carries the epoch too (contract v2), once it is known.
        if let Ok(Some(epoch)) = self.ob(|o| o.epoch()).await {
            let mut will = StatusMsg::offline(OffsetDateTime::now_utc());
            will.v = V2;
            will.epoch = Some(epoch);
            self.options.set_last_will(LastWill::new(
                self.cfg.station.topic(Topic::Status),
                serde_json::to_vec(&will).unwrap_or_default(),
                QoS::AtLeastOnce,
                true,
            ));
        }
        let mut backoff = Duration::ZERO;
        loop {
            sleep(backoff).await;
            let (client, eventloop) = AsyncClient::new(self.options.clone(), 256);
            let err = self.session(client, eventloop).await;
            backoff = (backoff * 2).clamp(Duration::from_millis(250), Duration::from_secs(5));
            tracing::warn!(
                "gateway {}: {err}; reconnecting in {backoff:?}",
                config::redacted(&self.cfg.url)
            );
            self.state.send_modify(|s| {
                s.connected = false;
                s.last_error = Some(err);
            });
        }
    }

    /// One MQTT session, until it fails.
    async fn session(&mut self, client: AsyncClient, mut eventloop: EventLoop) -> String {
        let mut s = Session::default();
        let (results_tx, mut results_rx) = mpsc::channel::<CmdResult>(64);
        let mut tick = tokio::time::interval(self.cfg.publish_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_tick = Instant::now();
        loop {
            tokio::select! {
                ev = eventloop.poll() => match ev {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        if let Err(e) = self.on_connected(&client, &mut s).await {
                            return e;
                        }
                    }
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                        let tag = s.pending.pop_front().unwrap_or(Tag::Other);
                        s.inflight.insert(pkid, tag);
                    }
                    Ok(Event::Incoming(Packet::PubAck(ack))) => {
                        match s.inflight.remove(&ack.pkid) {
                            Some(Tag::Bonds { from, to }) => {
                                s.on_bonds_acked(from, to);
                                self.state.send_modify(|st| st.bond_messages_acked += 1);
                            }
                            Some(Tag::Message(id)) => {
                                s.messages_inflight.remove(&id);
                                if let Err(e) = self.ob(move |o| o.ack_message(id)).await {
                                    return e;
                                }
                            }
                            _ => {}
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        self.on_command(&p.topic, p.payload, &results_tx);
                    }
                    Ok(_) => {}
                    Err(e) => return e.to_string(),
                },
                Some(result) = results_rx.recv() => {
                    if s.connected {
                        let payload = serde_json::to_vec(&result).unwrap_or_default();
                        if client.try_publish(self.cfg.station.topic(Topic::CmdResult), QoS::AtLeastOnce, false, payload).is_ok() {
                            s.pending.push_back(Tag::Other);
                        }
                    }
                }
                _ = tick.tick() => {
                    if !s.connected {
                        continue;
                    }
                    let now = Instant::now();
                    let dt = now.duration_since(last_tick).as_secs_f64();
                    last_tick = now;
                    if let Err(e) = self.publish_round(&client, &mut s, dt).await {
                        return e;
                    }
                }
            }
        }
    }

    async fn on_connected(&mut self, client: &AsyncClient, s: &mut Session) -> Result<(), String> {
        let st = &self.cfg.station;
        for t in [Topic::CmdRecipe, Topic::CmdWorkorder, Topic::CmdBackfill] {
            client
                .try_subscribe(st.topic(t), QoS::AtLeastOnce)
                .map_err(|e| e.to_string())?;
        }
        let (cursor, max, epoch) = self
            .ob(|o| Ok((o.bond_cursor()?, o.max_bond_seq()?, o.epoch()?)))
            .await?;
        s.epoch = epoch;
        s.connected = true;
        s.cursor = cursor;
        s.cursor_saved = cursor;
        s.live_seq = max.max(cursor);
        s.backlog_next = cursor + 1;
        s.backlog_end = max;
        s.backlog_tokens = 1.0;
        tracing::info!(url = %config::redacted(&self.cfg.url), cursor, backlog = max.saturating_sub(cursor), "gateway connected");
        self.state.send_modify(|g| {
            g.connected = true;
            g.connects += 1;
            g.acked_seq = cursor;
            g.live_seq = s.live_seq;
            g.backlog = max.saturating_sub(cursor);
        });
        self.publish_status(client, s, true);
        Ok(())
    }

    fn publish_status(&mut self, client: &AsyncClient, s: &mut Session, force: bool) {
        let msg = self.status.borrow_and_update().clone();
        let key = (
            msg.state.clone(),
            msg.recipe.clone(),
            msg.operator.clone(),
            msg.alarm,
        );
        let due = s
            .last_status_at
            .is_none_or(|t| t.elapsed() >= self.cfg.status_every);
        if !(force || due || s.last_status.as_ref() != Some(&key)) {
            return;
        }
        let msg = StatusMsg {
            ts: ts(OffsetDateTime::now_utc()),
            ..msg
        };
        let payload = serde_json::to_vec(&msg).unwrap_or_default();
        if client
            .try_publish(
                self.cfg.station.topic(Topic::Status),
                QoS::AtLeastOnce,
                true,
                payload,
            )
            .is_ok()
        {
            s.pending.push_back(Tag::Other);
            s.last_status = Some(key);
            s.last_status_at = Some(Instant::now());
        }
    }

    fn publish_bonds(
        &self,
        client: &AsyncClient,
        s: &mut Session,
        from: u64,
        bonds: Vec<BondMsg>,
    ) -> Option<u64> {
        let (first, last) = (bonds.first()?.seq, bonds.last()?.seq);
        let msg = BondsMsg {
            v: if s.epoch.is_some() { V2 } else { V },
            epoch: s.epoch.clone(),
            ts: ts(OffsetDateTime::now_utc()),
            first_seq: first,
            last_seq: last,
            bonds,
        };
        let payload = serde_json::to_vec(&msg).unwrap_or_default();
        client
            .try_publish(
                self.cfg.station.topic(Topic::Bonds),
                QoS::AtLeastOnce,
                false,
                payload,
            )
            .ok()?;
        s.pending.push_back(Tag::Bonds { from, to: last });
        Some(last)
    }

    async fn publish_round(
        &mut self,
        client: &AsyncClient,
        s: &mut Session,
        dt_s: f64,
    ) -> Result<(), String> {
        self.publish_status(client, s, false);
        let max_batch = self.cfg.max_batch_bonds;
        let max_inflight = self.cfg.max_inflight;
        // Live lane: everything committed since the last round, in batches; while a
        // backlog remains, half the in-flight window stays free for it.
        let backlog_left = s.backlog_next <= s.backlog_end;
        let live_reserve = if backlog_left { max_inflight / 2 } else { 0 };
        while s.room(max_inflight) > live_reserve {
            let after = s.live_seq;
            let bonds = self
                .ob(move |o| o.bonds(after, u64::MAX, max_batch))
                .await?;
            if bonds.is_empty() {
                break;
            }
            match self.publish_bonds(client, s, after + 1, bonds) {
                Some(last) => s.live_seq = last,
                None => break,
            }
        }
        // Backlog lane: in order, at a bounded rate.
        let rate = f64::from(self.cfg.backlog_batches_per_s.max(1));
        s.backlog_tokens = (s.backlog_tokens + dt_s * rate).min(rate);
        while s.backlog_next <= s.backlog_end && s.backlog_tokens >= 1.0 && s.room(max_inflight) > 0
        {
            let (after, upto) = (s.backlog_next - 1, s.backlog_end);
            let bonds = self.ob(move |o| o.bonds(after, upto, max_batch)).await?;
            if bonds.is_empty() {
                s.backlog_next = upto + 1; // nothing stored there any more (retention)
                s.on_bonds_acked(after + 1, upto);
                break;
            }
            match self.publish_bonds(client, s, after + 1, bonds) {
                Some(last) => {
                    s.backlog_next = last + 1;
                    s.backlog_tokens -= 1.0;
                }
                None => break,
            }
        }
        // Alarms, changeovers, shift reports.
        if s.room(max_inflight) > 0 {
            let limit = s.room(max_inflight);
            let msgs = self.ob(move |o| o.messages(limit)).await?;
            for m in msgs {
                if s.messages_inflight.contains(&m.id) {
                    continue;
                }
                if client
                    .try_publish(
                        self.cfg.station.topic(m.topic),
                        QoS::AtLeastOnce,
                        false,
                        m.payload,
                    )
                    .is_err()
                {
                    break;
                }
                s.messages_inflight.insert(m.id);
                s.pending.push_back(Tag::Message(m.id));
            }
        }
        if s.cursor != s.cursor_saved {
            let c = s.cursor;
            self.ob(move |o| o.set_bond_cursor(c)).await?;
            s.cursor_saved = c;
        }
        let (cursor, live, backlog) = (
            s.cursor,
            s.live_seq,
            s.backlog_end
                .saturating_sub(s.backlog_next.saturating_sub(1)),
        );
        self.state.send_if_modified(|g| {
            let changed = (g.acked_seq, g.live_seq, g.backlog) != (cursor, live, backlog);
            g.acked_seq = cursor;
            g.live_seq = live;
            g.backlog = backlog;
            changed
        });
        Ok(())
    }

    /// Checks a command off the event loop (the guard runs its blocking parts on the
    /// blocking pool) and hands it to the station; the answer goes to `{S}/cmd/result`.
    fn on_command(&self, topic: &str, payload: bytes::Bytes, results: &mpsc::Sender<CmdResult>) {
        let Some(t) = self.cfg.station.parse_topic(topic) else {
            return;
        };
        if crate::commands::permission_for(t).is_none() {
            return;
        }
        let answer = |request_id: Option<String>, r: Result<(), String>| CmdResult {
            v: V,
            request_id,
            ok: r.is_ok(),
            error: r.err(),
        };
        let (guard, commands, results) =
            (self.guard.clone(), self.commands.clone(), results.clone());
        tokio::spawn(async move {
            let result = match guard.screen(t, payload).await {
                Err(rej) => answer(rej.request_id, Err(rej.error)),
                Ok(accepted) => {
                    let (reply, rx) = oneshot::channel();
                    let request = CommandRequest {
                        command: accepted.command.clone(),
                        signer: accepted.signer.clone(),
                        reply,
                    };
                    let r = match commands.send(request).await {
                        Ok(()) => rx
                            .await
                            .unwrap_or_else(|_| Err("station did not answer".into())),
                        Err(_) => Err("station is shutting down".into()),
                    };
                    guard.record_done(&accepted, &r).await;
                    answer(Some(accepted.command.request_id().to_string()), r)
                }
            };
            let _ = results.send(result).await;
        });
    }
}
