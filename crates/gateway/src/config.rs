//! Gateway connection settings: broker URL (`mqtt://` or `mqtts://`), credentials, TLS.

use crate::topics::StationId;
use std::path::PathBuf;
use std::time::Duration;

/// Settings of the gateway link.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// `mqtt://host[:1883]` or `mqtts://host[:8883]`; user and password may be in the URL.
    pub url: String,
    pub station: StationId,
    pub username: Option<String>,
    pub password: Option<String>,
    /// CA certificate (PEM) for `mqtts://`.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub keep_alive: Duration,
    /// Most bonds in one `{S}/bonds` message.
    pub max_batch_bonds: usize,
    /// How often new bonds are looked for and published.
    pub publish_interval: Duration,
    /// Backlog batches per second after an outage (the live lane is not limited).
    pub backlog_batches_per_s: u32,
    /// Most unacknowledged publishes.
    pub max_inflight: usize,
    /// Status is republished this often, and on every change.
    pub status_every: Duration,
    /// The installation's random client-id suffix (contract v2, "Transport": drawn once
    /// and kept), so two installations with one station id cannot take each other's
    /// session; empty: none.
    pub client_suffix: String,
}

impl GatewayConfig {
    /// Defaults for a URL and a station.
    pub fn new(url: impl Into<String>, station: StationId) -> GatewayConfig {
        GatewayConfig {
            url: url.into(),
            station,
            username: None,
            password: None,
            ca_file: None,
            client_cert: None,
            client_key: None,
            keep_alive: Duration::from_secs(5),
            max_batch_bonds: 500,
            publish_interval: Duration::from_millis(250),
            backlog_batches_per_s: 20,
            max_inflight: 16,
            status_every: Duration::from_secs(10),
            client_suffix: String::new(),
        }
    }

    /// The MQTT client id of one of the station's sessions (`role` empty for the main
    /// one): `bonder-station-<station, / as ->[-role][-suffix]`.
    pub fn client_id(&self, role: &str) -> String {
        let mut id = format!(
            "bonder-station-{}",
            self.station.to_string().replace('/', "-")
        );
        for part in [role, self.client_suffix.as_str()] {
            if !part.is_empty() {
                id.push('-');
                id.push_str(part);
            }
        }
        id
    }
}

/// A gateway setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("gateway URL {url:?}: {reason} (expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT])")]
    Url { url: String, reason: String },
    #[error("gateway TLS file {path}: {source}")]
    TlsFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("gateway TLS: a client certificate needs its key and the other way round")]
    ClientCertPair,
}

/// Where and how to connect, resolved from a [`GatewayConfig`].
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// The broker URL as it may be logged or shown: a password in it is replaced by `***`
/// (a URL that does not parse is shown as `<unparsable URL>` rather than echoed).
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "<unparsable URL>".into(),
    }
}

/// Parses the broker URL.
pub fn endpoint(cfg: &GatewayConfig) -> Result<Endpoint, ConfigError> {
    let err = |reason: &str| ConfigError::Url {
        url: redacted(&cfg.url),
        reason: reason.into(),
    };
    let u = url::Url::parse(&cfg.url).map_err(|e| err(&e.to_string()))?;
    let tls = match u.scheme() {
        "mqtt" | "tcp" => false,
        "mqtts" | "ssl" => true,
        _ => return Err(err("unknown scheme")),
    };
    let host = u
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| err("no host"))?
        .to_string();
    let port = u.port().unwrap_or(if tls { 8883 } else { 1883 });
    let username = cfg
        .username
        .clone()
        .or_else(|| (!u.username().is_empty()).then(|| u.username().to_string()));
    let password = cfg
        .password
        .clone()
        .or_else(|| u.password().map(str::to_string));
    Ok(Endpoint {
        host,
        port,
        tls,
        username,
        password,
    })
}

/// A client certificate and its key, PEM.
pub type PemPair = (Vec<u8>, Vec<u8>);

/// Reads the TLS files: (CA PEM, optional (client cert PEM, key PEM)).
pub fn tls_material(cfg: &GatewayConfig) -> Result<(Vec<u8>, Option<PemPair>), ConfigError> {
    let read = |p: &PathBuf| {
        std::fs::read(p).map_err(|source| ConfigError::TlsFile {
            path: p.clone(),
            source,
        })
    };
    let ca = match &cfg.ca_file {
        Some(p) => read(p)?,
        None => Vec::new(),
    };
    let client = match (&cfg.client_cert, &cfg.client_key) {
        (Some(c), Some(k)) => Some((read(c)?, read(k)?)),
        (None, None) => None,
        _ => return Err(ConfigError::ClientCertPair),
    };
    Ok((ca, client))
}

/// The MQTT options of one session to the configured broker: host and port from the
/// URL, credentials, TLS material, keep-alive, packet limits of `max_packet` bytes and
/// the session kind (`clean`: forgotten on disconnect; else persistent, so QoS 1
/// messages wait for the client). The one place every session of the station and the
/// supervisor is built; a caller adds what only it needs (a last will).
pub fn mqtt_options(
    cfg: &GatewayConfig,
    client_id: String,
    clean: bool,
    max_packet: usize,
) -> Result<rumqttc::MqttOptions, ConfigError> {
    use rumqttc::{TlsConfiguration, Transport};
    let ep = endpoint(cfg)?;
    let mut o = rumqttc::MqttOptions::new(client_id, ep.host, ep.port);
    o.set_keep_alive(cfg.keep_alive);
    o.set_clean_session(clean);
    o.set_max_packet_size(max_packet, max_packet);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_the_url_is_never_shown() {
        assert_eq!(
            redacted("mqtts://wb01:s3cret@broker.plant:8883"),
            "mqtts://wb01:***@broker.plant:8883"
        );
        assert_eq!(redacted("mqtt://broker:1883"), "mqtt://broker:1883");
        let mut c = cfg("mqtt://u:s3cret@");
        c.url = "mqtt://u:s3cret@".into();
        if let Err(e) = endpoint(&c) {
            assert!(!e.to_string().contains("s3cret"), "{e}");
        }
    }

    fn cfg(url: &str) -> GatewayConfig {
        GatewayConfig::new(url, "a/b/c/d".parse().unwrap())
    }

    #[test]
    fn urls() {
        let e = endpoint(&cfg("mqtt://127.0.0.1")).unwrap();
        assert_eq!((e.host.as_str(), e.port, e.tls), ("127.0.0.1", 1883, false));
        let e = endpoint(&cfg("mqtts://gw.plant:9883")).unwrap();
        assert_eq!((e.host.as_str(), e.port, e.tls), ("gw.plant", 9883, true));
        let e = endpoint(&cfg("mqtt://wb:secret@10.1.2.3:1884")).unwrap();
        assert_eq!(
            (e.username.as_deref(), e.password.as_deref()),
            (Some("wb"), Some("secret"))
        );
        for bad in ["http://x", "mqtt://", "127.0.0.1:1883", "mqtt://x:99999"] {
            assert!(endpoint(&cfg(bad)).is_err(), "{bad}");
        }
    }
}
