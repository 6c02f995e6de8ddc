//! Backfill (an addition to the gateway contract, `docs/ARCHITECTURE.md`): a reader that
//! found a gap in a station's `seq` publishes `{S}/cmd/backfill`
//! `{v, request_id, from_seq, to_seq}` (signed like every command since contract v2, by
//! an engineer, supervisor or admin); the station publishes the bonds it still stores in
//! that range again on `{S}/bonds` (same epoch and seq, so readers drop what they
//! already have), at a bounded rate, then answers on `{S}/cmd/result`.
//!
//! The request is checked by the gateway link's [`CommandGuard`](bonder_gateway::CommandGuard)
//! like any command and handed here; the bonds go out on a publish-only MQTT session of
//! their own (client id `…-backfill`, no last will, no subscription), so a long backfill
//! never delays live bonds or moves the link's cursor, and nothing here can block an
//! MQTT event loop: its event loop only polls, and a request never waits for another.
//! One request per requester is served at a time, at most [`MAX_CONCURRENT`] in all;
//! more are answered `busy` at once. Bonds come from the store, never memory.

use crate::gateway_link::bond_msg;
use bonder_gateway::GatewayConfig;
use bonder_gateway::config::ConfigError;
use bonder_gateway::payload::{BondsMsg, V2, ts};
use bonder_gateway::topics::Topic;
use bonder_store::Store;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::oneshot;

/// Bonds per `{S}/bonds` message.
const BATCH: usize = 500;
/// Pause between batches (20 batches/s, like the link's backlog lane).
const PAUSE: Duration = Duration::from_millis(50);
/// Backfills served at the same time (one per requester).
pub const MAX_CONCURRENT: usize = 4;

fn options(cfg: &GatewayConfig) -> Result<MqttOptions, ConfigError> {
    // Publish-only: a clean session of its own.
    bonder_gateway::config::mqtt_options(cfg, cfg.client_id("backfill"), true, 4 << 20)
}

/// Serves backfills that passed the command checks.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // an MQTT client and the store
pub struct Backfiller {
    client: AsyncClient,
    cfg: Arc<GatewayConfig>,
    store: Arc<Store>,
    outstanding: Arc<Mutex<HashSet<String>>>,
}

impl Backfiller {
    /// Starts the publish-only session (it reconnects with backoff on its own).
    pub fn start(cfg: &GatewayConfig, store: Arc<Store>) -> Result<Backfiller, ConfigError> {
        let (client, mut eventloop) = AsyncClient::new(options(cfg)?, 64);
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                match eventloop.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                        backoff = Duration::from_millis(100);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!("backfill session: {e}");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
        });
        Ok(Backfiller {
            client,
            cfg: Arc::new(cfg.clone()),
            store,
            outstanding: Arc::new(Mutex::new(HashSet::new())),
        })
    }

    /// Starts serving `from..=to` for `requester` and returns at once; `reply` gets the
    /// outcome when the bonds are handed to the broker (or `busy` right away).
    pub fn serve(
        &self,
        requester: String,
        from: u64,
        to: u64,
        reply: oneshot::Sender<Result<(), String>>,
    ) {
        {
            let mut o = self.outstanding.lock().unwrap_or_else(|p| p.into_inner());
            if o.contains(&requester) {
                let _ = reply.send(Err(format!(
                    "busy: a backfill requested by {requester} is still being served; ask again once it is answered"
                )));
                return;
            }
            if o.len() >= MAX_CONCURRENT {
                let _ = reply.send(Err(format!(
                    "busy: {MAX_CONCURRENT} backfills are being served; ask again later"
                )));
                return;
            }
            o.insert(requester.clone());
        }
        let this = self.clone();
        tokio::spawn(async move {
            let r = this.republish(from, to).await;
            match &r {
                Ok(n) => tracing::info!(from, to, n, requester, "backfill served"),
                Err(e) => tracing::warn!(from, to, requester, "backfill failed: {e}"),
            }
            this.outstanding
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&requester);
            let _ = reply.send(r.map(|_| ()));
        });
    }

    /// Publishes the stored bonds `from..=to` again; how many.
    async fn republish(&self, from: u64, to: u64) -> Result<u64, String> {
        let store = self.store.clone();
        let epoch = tokio::task::spawn_blocking(move || store.epoch())
            .await
            .map_err(|e| format!("store task: {e}"))?
            .map_err(|e| format!("store: {e}"))?;
        let mut next = from;
        let mut sent = 0u64;
        while next <= to {
            let (store, upto) = (
                self.store.clone(),
                to.min(next.saturating_add(BATCH as u64 - 1)),
            );
            let start = next;
            let bonds = tokio::task::spawn_blocking(move || {
                store
                    .reader()
                    .and_then(|r| r.bonds_by_seq(start..=upto))
                    .map(|rows| rows.iter().map(bond_msg).collect::<Vec<_>>())
            })
            .await
            .map_err(|e| format!("store task: {e}"))?
            .map_err(|e| format!("store: {e}"))?;
            next = upto + 1;
            let (Some(first), Some(last)) = (bonds.first(), bonds.last()) else {
                continue; // nothing stored there any more (retention)
            };
            let msg = BondsMsg {
                v: V2,
                epoch: Some(epoch.clone()),
                ts: ts(OffsetDateTime::now_utc()),
                first_seq: first.seq,
                last_seq: last.seq,
                bonds,
            };
            sent += msg.bonds.len() as u64;
            self.client
                .publish(
                    self.cfg.station.topic(Topic::Bonds),
                    QoS::AtLeastOnce,
                    false,
                    serde_json::to_vec(&msg).unwrap_or_default(),
                )
                .await
                .map_err(|e| format!("gateway: {e}"))?;
            tokio::time::sleep(PAUSE).await;
        }
        Ok(sent)
    }
}
