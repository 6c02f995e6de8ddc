//! Backfill (an addition to the gateway contract, `docs/ARCHITECTURE.md`): a reader that
//! found a gap in a station's `seq` publishes `{S}/cmd/backfill`
//! `{v, request_id, from_seq, to_seq}`; the station publishes the bonds it still stores
//! in that range again on `{S}/bonds` (same seq, so readers drop what they already have),
//! at a bounded rate, then answers on `{S}/cmd/result`.
//!
//! It runs on its own MQTT session (client id `…-backfill`, no last will) beside the
//! store-and-forward link, so a long backfill never delays live bonds or moves the
//! link's cursor. Bonds come from the store ([`bonder_store::Reader`]), never memory.

use crate::gateway_link::bond_msg;
use bonder_gateway::GatewayConfig;
use bonder_gateway::config::{endpoint, tls_material};
use bonder_gateway::payload::{BackfillCmd, BondsMsg, CMD_BACKFILL, CmdResult, V, ts};
use bonder_gateway::topics::Topic;
use bonder_store::Store;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::mpsc;

/// Most bonds one request may ask for.
pub const MAX_RANGE: u64 = 1_000_000;
/// Bonds per `{S}/bonds` message.
const BATCH: usize = 500;
/// Pause between batches (20 batches/s, like the link's backlog lane).
const PAUSE: Duration = Duration::from_millis(50);

fn options(cfg: &GatewayConfig) -> Result<MqttOptions, bonder_gateway::config::ConfigError> {
    let ep = endpoint(cfg)?;
    let id = format!(
        "bonder-station-{}-backfill",
        cfg.station.to_string().replace('/', "-")
    );
    let mut o = MqttOptions::new(id, ep.host, ep.port);
    o.set_keep_alive(cfg.keep_alive);
    o.set_clean_session(true);
    o.set_max_packet_size(4 << 20, 4 << 20);
    if let Some(user) = ep.username {
        o.set_credentials(user, ep.password.unwrap_or_default());
    }
    if ep.tls {
        let (ca, client_auth) = tls_material(cfg)?;
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
            ca,
            alpn: None,
            client_auth,
        }));
    }
    Ok(o)
}

/// Checks a request: `Err((request_id, reason))` when it cannot be served.
fn parse(payload: &[u8]) -> Result<BackfillCmd, (Option<String>, String)> {
    let v: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| (None, format!("malformed JSON: {e}")))?;
    let rid = v["request_id"].as_str().map(str::to_string);
    if v["v"].as_u64() != Some(u64::from(V)) {
        return Err((
            rid,
            "unknown or missing payload version (this station reads v=1)".into(),
        ));
    }
    let c: BackfillCmd = serde_json::from_value(v)
        .map_err(|e| (rid.clone(), format!("malformed backfill request: {e}")))?;
    if c.from_seq == 0 || c.to_seq < c.from_seq {
        return Err((rid, "backfill needs 1 <= from_seq <= to_seq".into()));
    }
    if c.to_seq - c.from_seq >= MAX_RANGE {
        return Err((rid, format!("backfill of more than {MAX_RANGE} bonds")));
    }
    Ok(c)
}

/// Serves backfill requests until the process ends (reconnecting with backoff).
pub async fn serve(cfg: GatewayConfig, store: Arc<Store>) {
    let opts = match options(&cfg) {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!("backfill disabled: {e}");
            return;
        }
    };
    let station = cfg.station.clone();
    let request_topic = format!("{station}/{CMD_BACKFILL}");
    let (client, mut eventloop) = AsyncClient::new(opts, 64);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(16);
    let sub = request_topic.clone();
    let poll_client = client.clone();
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff = Duration::from_millis(100);
                    let _ = poll_client.try_subscribe(sub.as_str(), QoS::AtLeastOnce);
                }
                Ok(Event::Incoming(Packet::Publish(p))) if p.topic == sub => {
                    let _ = tx.send(p.payload.to_vec()).await;
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
    while let Some(payload) = rx.recv().await {
        let (request_id, result) = match parse(&payload) {
            Err((rid, e)) => (rid, Err(e)),
            Ok(c) => {
                let r = republish(&client, &cfg, &store, c.from_seq, c.to_seq).await;
                if let Ok(n) = &r {
                    tracing::info!(from = c.from_seq, to = c.to_seq, n, "backfill served");
                }
                (Some(c.request_id), r.map(|_| ()))
            }
        };
        let answer = CmdResult {
            v: V,
            request_id,
            ok: result.is_ok(),
            error: result.err(),
        };
        let _ = client
            .publish(
                station.topic(Topic::CmdResult),
                QoS::AtLeastOnce,
                false,
                serde_json::to_vec(&answer).unwrap_or_default(),
            )
            .await;
    }
}

/// Publishes the stored bonds `from..=to` again; how many.
async fn republish(
    client: &AsyncClient,
    cfg: &GatewayConfig,
    store: &Arc<Store>,
    from: u64,
    to: u64,
) -> Result<u64, String> {
    let mut next = from;
    let mut sent = 0u64;
    while next <= to {
        let (store, upto) = (store.clone(), to.min(next.saturating_add(BATCH as u64 - 1)));
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
            v: V,
            ts: ts(OffsetDateTime::now_utc()),
            first_seq: first.seq,
            last_seq: last.seq,
            bonds,
        };
        sent += msg.bonds.len() as u64;
        client
            .publish(
                cfg.station.topic(Topic::Bonds),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn requests_are_checked() {
        let c = parse(br#"{"v":1,"request_id":"b1","from_seq":5,"to_seq":9}"#).unwrap();
        assert_eq!((c.from_seq, c.to_seq), (5, 9));
        let e = parse(br#"{"v":1,"request_id":"b2","from_seq":9,"to_seq":5}"#).unwrap_err();
        assert_eq!(e.0.as_deref(), Some("b2"));
        assert!(parse(br#"{"v":2,"request_id":"b3","from_seq":1,"to_seq":2}"#).is_err());
        assert!(parse(b"nope").unwrap_err().0.is_none());
    }
}
