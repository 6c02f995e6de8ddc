//! The embedded broker: with no gateway configured the station runs an MQTT broker
//! (rumqttd) in-process on loopback, so the supervisor and any MQTT tool can connect on a
//! single machine.

use std::collections::HashMap;
use std::net::SocketAddr;

/// Default address of the embedded broker.
pub const DEFAULT_ADDR: &str = "127.0.0.1:1883";

/// Clients at most: the station's own two (gateway, backfill), a supervisor or two and
/// some tools — it serves one station.
pub const MAX_CONNECTIONS: usize = 32;
/// Bytes of one segment of a topic filter's log in the router …
pub const MAX_SEGMENT_BYTES: usize = 4 << 20;
/// … and segments kept per filter: at most 16 MiB per filter (rumqttd's examples size
/// it in gigabytes, which one station's traffic never needs and a panel PC cannot give).
pub const MAX_SEGMENTS: usize = 4;

/// Why the embedded broker did not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("embedded MQTT broker cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Starts rumqttd on `addr` (MQTT 3.1.1) in its own thread; it accepts connections a
/// moment later (the gateway link retries). The broker lives as long as the process.
pub fn start(addr: SocketAddr) -> Result<SocketAddr, BrokerError> {
    // Check the port first: rumqttd reports a bind failure only in its own thread.
    let probe =
        std::net::TcpListener::bind(addr).map_err(|source| BrokerError::Bind { addr, source })?;
    let addr = probe
        .local_addr()
        .map_err(|source| BrokerError::Bind { addr, source })?;
    drop(probe);
    let mut v4 = HashMap::new();
    v4.insert(
        "v4".to_string(),
        rumqttd::ServerSettings {
            name: "v4".into(),
            listen: addr,
            tls: None,
            next_connection_delay_ms: 1,
            connections: rumqttd::ConnectionSettings {
                connection_timeout_ms: 5000,
                max_payload_size: 1 << 20,
                max_inflight_count: 200,
                auth: None,
                external_auth: None,
                dynamic_filters: true,
            },
        },
    );
    let config = rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            max_connections: MAX_CONNECTIONS,
            max_outgoing_packet_count: 1000,
            max_segment_size: MAX_SEGMENT_BYTES,
            max_segment_count: MAX_SEGMENTS,
            ..Default::default()
        },
        v4: Some(v4),
        ..Default::default()
    };
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            if let Err(e) = rumqttd::Broker::new(config).start() {
                tracing::error!("embedded MQTT broker stopped: {e}");
            }
        })
        .map_err(|source| BrokerError::Bind { addr, source })?;
    // No readiness probe: a bare TCP connect makes rumqttd log an error; clients retry.
    tracing::info!(%addr, "embedded MQTT broker starting");
    Ok(addr)
}
