//! The server's settings (`opcua_listen`, `opcua_pki`, `allow_insecure`,
//! `anonymous_read`) and the station's identity as the address space shows it.

use crate::OpcuaError;
use std::path::PathBuf;

/// Where the server listens: `opc.tcp://HOST:PORT/PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    pub host: String,
    pub port: u16,
    /// The endpoint path, `/` by default.
    pub path: String,
}

impl Listen {
    /// The contract's default, `opc.tcp://127.0.0.1:4840/`.
    pub const DEFAULT: &'static str = "opc.tcp://127.0.0.1:4840/";

    /// Parses `opc.tcp://host:port/path`; `none` (any case) is `Ok(None)`: the server is
    /// off.
    pub fn parse(url: &str) -> Result<Option<Listen>, OpcuaError> {
        let url = url.trim();
        if url.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        let bad = |why: &str| OpcuaError::Listen {
            url: url.to_string(),
            why: why.to_string(),
        };
        let rest = url
            .strip_prefix("opc.tcp://")
            .ok_or_else(|| bad("it must start with opc.tcp:// / 必须以 opc.tcp:// 开头"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| bad("the port is not a number 1–65535 / 端口无效"))?,
            ),
            None => (authority, 4840),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("no host / 缺少主机名"));
        }
        Ok(Some(Listen {
            host: host.to_string(),
            port,
            path: path.to_string(),
        }))
    }

    /// The endpoint URL clients use.
    pub fn url(&self) -> String {
        if self.host.contains(':') {
            format!("opc.tcp://[{}]:{}{}", self.host, self.port, self.path)
        } else {
            format!("opc.tcp://{}:{}{}", self.host, self.port, self.path)
        }
    }
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct OpcuaConfig {
    pub listen: Listen,
    /// own/, private/, trusted/, rejected/.
    pub pki_dir: PathBuf,
    /// Also offer a `None` endpoint (a lab only; warned at every start).
    pub allow_insecure: bool,
    /// Accept anonymous sessions, which may only read and subscribe.
    pub anonymous_read: bool,
    /// The station id (`plant/line/wb-07`): the serial number and the certificate's URI.
    pub station_id: String,
    pub manufacturer: String,
    pub software_revision: String,
}

impl OpcuaConfig {
    /// The station's name in the address space: the last level of its id.
    pub fn station_name(&self) -> &str {
        self.station_id
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or(&self.station_id)
    }

    /// `urn:bonder-hmi:station:<station id>`.
    pub fn application_uri(&self) -> String {
        format!("urn:bonder-hmi:station:{}", self.station_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_urls_parse_and_none_turns_it_off() {
        let l = Listen::parse(Listen::DEFAULT).ok().flatten();
        assert_eq!(
            l,
            Some(Listen {
                host: "127.0.0.1".into(),
                port: 4840,
                path: "/".into()
            })
        );
        assert_eq!(
            l.map(|l| l.url()).as_deref(),
            Some("opc.tcp://127.0.0.1:4840/")
        );
        assert!(matches!(Listen::parse("None"), Ok(None)));
        let l = Listen::parse("opc.tcp://[::1]:4999/bonder").ok().flatten();
        assert_eq!(
            l.map(|l| l.url()).as_deref(),
            Some("opc.tcp://[::1]:4999/bonder")
        );
        for bad in ["tcp://x:1/", "opc.tcp://:4840/", "opc.tcp://h:99999/", ""] {
            let e = Listen::parse(bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains("opc.tcp") || e.contains('/'), "{bad}: {e}");
            assert!(Listen::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_station_name_is_the_last_level() {
        let c = OpcuaConfig {
            listen: Listen {
                host: "h".into(),
                port: 1,
                path: "/".into(),
            },
            pki_dir: PathBuf::new(),
            allow_insecure: false,
            anonymous_read: false,
            station_id: "plant/line-3/wb-07".into(),
            manufacturer: String::new(),
            software_revision: String::new(),
        };
        assert_eq!(c.station_name(), "wb-07");
        assert_eq!(
            c.application_uri(),
            "urn:bonder-hmi:station:plant/line-3/wb-07"
        );
    }
}
