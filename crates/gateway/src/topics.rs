//! The station's topic prefix `{site}/{area}/{line}/{station}` and the topics below it.

use std::fmt;
use std::str::FromStr;

/// An ISA-95 station id: four levels, each `[a-z0-9-]+`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StationId(String);

/// A station id that breaks the naming rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("station id {0:?}: expected site/area/line/station, each level [a-z0-9-]+")]
pub struct StationIdError(pub String);

impl FromStr for StationId {
    type Err = StationIdError;
    fn from_str(s: &str) -> Result<Self, StationIdError> {
        let levels: Vec<&str> = s.split('/').collect();
        let ok = levels.len() == 4
            && levels.iter().all(|l| {
                !l.is_empty()
                    && l.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            });
        if ok {
            Ok(StationId(s.to_string()))
        } else {
            Err(StationIdError(s.to_string()))
        }
    }
}

impl fmt::Display for StationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A topic below the station prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    Status,
    Bonds,
    Alarms,
    Changeovers,
    Shift,
    /// `{S}/health` (drift warnings and forecasts, issue 18).
    Health,
    CmdRecipe,
    CmdWorkorder,
    /// `{S}/cmd/backfill` (an addition to the contract: `docs/ARCHITECTURE.md`).
    CmdBackfill,
    CmdResult,
}

impl Topic {
    /// The suffix after `{S}/`.
    pub fn suffix(self) -> &'static str {
        match self {
            Topic::Status => "status",
            Topic::Bonds => "bonds",
            Topic::Alarms => "alarms",
            Topic::Changeovers => "changeovers",
            Topic::Shift => "shift",
            Topic::Health => "health",
            Topic::CmdRecipe => "cmd/recipe",
            Topic::CmdWorkorder => "cmd/workorder",
            Topic::CmdBackfill => "cmd/backfill",
            Topic::CmdResult => "cmd/result",
        }
    }

    /// The topic for a suffix.
    pub fn from_suffix(s: &str) -> Option<Topic> {
        [
            Topic::Status,
            Topic::Bonds,
            Topic::Alarms,
            Topic::Changeovers,
            Topic::Shift,
            Topic::Health,
            Topic::CmdRecipe,
            Topic::CmdWorkorder,
            Topic::CmdBackfill,
            Topic::CmdResult,
        ]
        .into_iter()
        .find(|t| t.suffix() == s)
    }
}

impl StationId {
    /// `{S}/<suffix>`.
    pub fn topic(&self, t: Topic) -> String {
        format!("{}/{}", self.0, t.suffix())
    }

    /// The topic below this station, if `full` is one.
    pub fn parse_topic(&self, full: &str) -> Option<Topic> {
        full.strip_prefix(&self.0)?
            .strip_prefix('/')
            .and_then(Topic::from_suffix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn station_ids_follow_the_contract() {
        assert!("sz1/assembly/sot23-l4/wb-07".parse::<StationId>().is_ok());
        for bad in [
            "sz1/assembly/wb-07",
            "SZ1/a/b/c",
            "a/b/c/d/e",
            "a//c/d",
            "a/b c/d/e",
            "a/b/c/#",
        ] {
            assert!(bad.parse::<StationId>().is_err(), "{bad}");
        }
        let s: StationId = "sz1/assembly/l1/wb-01".parse().unwrap();
        assert_eq!(
            s.topic(Topic::CmdRecipe),
            "sz1/assembly/l1/wb-01/cmd/recipe"
        );
        assert_eq!(
            s.parse_topic("sz1/assembly/l1/wb-01/cmd/workorder"),
            Some(Topic::CmdWorkorder)
        );
        assert_eq!(s.parse_topic("sz1/assembly/l1/wb-02/cmd/workorder"), None);
    }
}
