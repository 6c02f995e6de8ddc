//! The headless status line and the run's usage figures.

use bonder_core::Defect;
use bonder_runtime::Snapshot;
use std::time::Duration;

/// One line of the headless status: link, state, counters, gateway, memory.
pub fn status_line(
    s: &Snapshot,
    gw: Option<&bonder_gateway::GatewayState>,
    elapsed: Duration,
) -> String {
    let c = &s.counters;
    let state = s.machine_state.map_or("-", |m| m.name());
    let rejects: Vec<String> = Defect::ALL
        .into_iter()
        .filter(|d| c.rejects[d.index()] > 0)
        .map(|d| format!("{}={}", d.name(), c.rejects[d.index()]))
        .collect();
    let gateway = match gw {
        Some(g) => format!(
            " gateway={} published={} live={} backlog={}",
            if g.connected { "up" } else { "down" },
            g.acked_seq,
            g.live_seq,
            g.backlog
        ),
        None => String::new(),
    };
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|st| {
            st.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .map(|kb| kb.trim().replace(' ', ""))
        })
        .map(|kb| format!(" rss={kb}"))
        .unwrap_or_default();
    format!(
        "t={:>4}s link={} state={} recipe={} wires={} rejected={} yield={:.2}% rate={:.0}/min uph={:.0} bonds={} seq={} lost={} bad_crc={} learned={}/{}{gateway}{rss} rejects=[{}] replayed={} deadlines={} alarms=[{}]{}",
        elapsed.as_secs(),
        s.link.name(),
        state,
        s.recipe_id,
        c.wires,
        c.rejected_wires,
        c.yield_pct,
        c.wire_rate_per_min,
        c.uph,
        s.bonds_received,
        s.last_seq,
        s.decode.lost_frames,
        s.decode.bad_crc,
        s.learned[0],
        s.learned[1],
        rejects.join(" "),
        s.frames_replayed,
        s.stream_deadlines,
        s.active_alarms
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(","),
        if s.interlock.is_some() {
            " interlocked"
        } else {
            ""
        },
    )
}

/// Bonds/s, CPU and peak memory of this process over the run (Linux: /proc/self).
pub fn usage_line(s: &Snapshot, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mut line = format!(
        "load: bonds/s={:.0} frames_ok={} lost_frames={} bad_crc={} bad_length={}",
        s.bonds_received as f64 / secs,
        s.decode.frames_ok,
        s.decode.lost_frames,
        s.decode.bad_crc,
        s.decode.bad_length
    );
    // utime and stime are fields 14 and 15 of /proc/self/stat, in clock ticks (100/s on
    // Linux); VmHWM in /proc/self/status is the peak resident set.
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let tick = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // After the ')' the first field is field 3 (state).
        let cpu_s = (tick(11) + tick(12)) / 100.0;
        line += &format!(" cpu={:.1}%", cpu_s / secs * 100.0);
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(kb) = status.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
            line += &format!(" peak_rss={}", kb.trim().replace(' ', ""));
        }
    }
    line
}

/// The SECS/GEM part of the status line: ` gem=communicating/ONLINE-REMOTE spool=N`,
/// and ` terminal=pending` while a host's terminal message waits for an operator.
pub fn gem_part(gem: Option<&bonder_gem::GemHandle>) -> String {
    match gem {
        None => " gem=off".into(),
        Some(g) => {
            let s = g.status().borrow().clone();
            let comm = match s.comm {
                bonder_gem::CommState::Communicating => "communicating",
                bonder_gem::CommState::WaitCra => "wait-cra",
                bonder_gem::CommState::NotCommunicating => "not-communicating",
            };
            let terminal = if s.terminal.is_some() {
                " terminal=pending"
            } else {
                ""
            };
            format!(
                " gem={comm}/{} spool={}{terminal}",
                s.control.name(),
                s.spool_count
            )
        }
    }
}
