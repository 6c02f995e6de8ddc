//! The station's gate for gateway commands: size and rate first (no parsing), then the
//! signature checks of [`crate::commands::check`] with nonces kept by a durable
//! [`CommandLedger`], and one audit record per refusal and per command carried out.
//!
//! Both the store-and-forward link and anything else taking commands go through one
//! [`CommandGuard`], so the rate limit is per station, not per MQTT session.

use crate::client::OutboxError;
use crate::commands::{self, Accepted, CommandPolicy, Rejection};
use crate::signed::{MAX_COMMAND_BYTES, MAX_COMMANDS_PER_S, RefusalCode, Signer};
use crate::topics::Topic;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the station keeps of the commands it is sent (implemented over its SQLite
/// store). Calls are blocking; the guard runs them on Tokio's blocking pool.
pub trait CommandLedger: Send + Sync + 'static {
    /// Remembers `nonce` until `until_s` (Unix seconds), forgetting nonces expired by
    /// `now_s`; `false` when it was known already.
    fn claim_nonce(&self, nonce: &str, until_s: i64, now_s: i64) -> Result<bool, OutboxError>;
    /// Writes one audit row.
    fn record(&self, rec: &CommandRecord) -> Result<(), OutboxError>;
}

/// One audited command outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandRecord {
    pub topic: Topic,
    pub request_id: Option<String>,
    /// Who signed it (when the signature checked out).
    pub signer: Option<Signer>,
    /// The contract's refusal code, if refused with one.
    pub code: Option<RefusalCode>,
    /// `Ok`: carried out; `Err`: the error as answered.
    pub outcome: Result<(), String>,
    /// How many commands this row stands for: 1, except for `rate_limited`, which is
    /// recorded at most once a second with the number refused since the last row (a
    /// flood must not turn into a flood of audit rows).
    pub count: u64,
}

#[derive(Debug, Default)]
struct Rate {
    admitted: VecDeque<Instant>,
    limited_since_row: u64,
    last_limited_row: Option<Instant>,
}

/// Size, rate, signature, replay and role checks for one station.
pub struct CommandGuard {
    policy: CommandPolicy,
    ledger: Arc<dyn CommandLedger>,
    rate: Mutex<Rate>,
}

impl std::fmt::Debug for CommandGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandGuard")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn now_s() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl CommandGuard {
    /// A guard over a policy and a ledger.
    pub fn new(policy: CommandPolicy, ledger: Arc<dyn CommandLedger>) -> Arc<CommandGuard> {
        if policy.accept_unsigned {
            tracing::warn!(
                "accept_unsigned is on: version-1 unsigned gateway commands are taken (a migration aid; turn it off)"
            );
        }
        Arc::new(CommandGuard {
            policy,
            ledger,
            rate: Mutex::new(Rate::default()),
        })
    }

    /// The policy checked against.
    pub fn policy(&self) -> &CommandPolicy {
        &self.policy
    }

    /// Size and rate, before anything is parsed: `None` when admitted, else the refusal
    /// and how many refusals an audit row written now stands for (`None`: no row now).
    fn admit(&self, len: usize) -> Option<(Rejection, Option<u64>)> {
        if len > MAX_COMMAND_BYTES {
            return Some((
                Rejection::coded(
                    RefusalCode::TooLarge,
                    None,
                    &format!("{len} bytes is more than {MAX_COMMAND_BYTES}"),
                ),
                Some(1),
            ));
        }
        let now = Instant::now();
        let mut r = self.rate.lock().unwrap_or_else(|p| p.into_inner());
        while r
            .admitted
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            r.admitted.pop_front();
        }
        if r.admitted.len() >= MAX_COMMANDS_PER_S {
            r.limited_since_row += 1;
            let due = r
                .last_limited_row
                .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1));
            let row = due.then(|| {
                r.last_limited_row = Some(now);
                std::mem::take(&mut r.limited_since_row)
            });
            return Some((
                Rejection::coded(
                    RefusalCode::RateLimited,
                    None,
                    &format!("more than {MAX_COMMANDS_PER_S} commands a second"),
                ),
                row,
            ));
        }
        r.admitted.push_back(now);
        None
    }

    fn record_blocking(&self, rec: &CommandRecord) {
        if let Err(e) = self.ledger.record(rec) {
            tracing::error!(
                topic = rec.topic.suffix(),
                "audit row of a gateway command not written: {e}"
            );
        }
    }

    fn refusal_record(topic: Topic, r: &Rejection, count: u64) -> CommandRecord {
        CommandRecord {
            topic,
            request_id: r.request_id.clone(),
            signer: r.signer.clone(),
            code: r.code,
            outcome: Err(r.error.clone()),
            count,
        }
    }

    /// Runs every check on a command payload; a refusal is audited before it is
    /// returned. Blocking work (nonce ledger, audit) runs on the blocking pool, so this
    /// never stalls the caller's MQTT event loop.
    pub async fn screen(
        self: &Arc<Self>,
        topic: Topic,
        payload: bytes::Bytes,
    ) -> Result<Accepted, Rejection> {
        let early = self.admit(payload.len());
        let guard = self.clone();
        let job = move || match early {
            Some((rej, row)) => {
                if let Some(count) = row {
                    guard.record_blocking(&Self::refusal_record(topic, &rej, count));
                }
                Err(rej)
            }
            None => {
                let now = now_s();
                let ledger = guard.ledger.clone();
                let r = commands::check(topic, &payload, &guard.policy, now, |n, until| {
                    ledger.claim_nonce(n, until, now).map_err(|e| e.to_string())
                });
                match &r {
                    Err(rej) => {
                        tracing::warn!(
                            topic = topic.suffix(),
                            "gateway command refused: {}",
                            rej.error
                        );
                        guard.record_blocking(&Self::refusal_record(topic, rej, 1));
                    }
                    Ok(a) if a.signer.is_none() => tracing::warn!(
                        topic = topic.suffix(),
                        "unsigned version-1 gateway command taken (accept_unsigned is on)"
                    ),
                    Ok(_) => {}
                }
                r
            }
        };
        tokio::task::spawn_blocking(job).await.unwrap_or_else(|e| {
            Err(Rejection::coded(
                RefusalCode::Unsigned,
                None,
                &format!("station could not check the command: {e}"),
            ))
        })
    }

    /// Audits a command that passed the checks, with what came of it.
    pub async fn record_done(self: &Arc<Self>, accepted: &Accepted, outcome: &Result<(), String>) {
        let rec = CommandRecord {
            topic: accepted.command.topic(),
            request_id: Some(accepted.command.request_id().to_string()),
            signer: accepted.signer.clone(),
            code: None,
            outcome: outcome.clone(),
            count: 1,
        };
        let guard = self.clone();
        let _ = tokio::task::spawn_blocking(move || guard.record_blocking(&rec)).await;
    }
}
