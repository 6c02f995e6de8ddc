//! The login policy: what a new PIN or password must be, and what a sign-in attempt
//! does to an account's failure count and lock. Pure: the store keeps the counts and
//! the clock, this module decides.
//!
//! * Operators and technicians sign in with a **PIN** (digits only, at least
//!   [`LoginPolicy::pin_min`], default 6) on the panel's keypad; engineers, supervisors
//!   and administrators with a **password** (at least [`LoginPolicy::password_min`]
//!   characters, default 10). Stricter values may be configured, looser ones not.
//! * [`LoginPolicy::max_failures`] wrong attempts in a row (default 5) lock the badge
//!   for [`LoginPolicy::lockout_ms`] (default 5 min). An attempt on a locked badge is
//!   refused without counting, even with the right secret. The count is kept per
//!   *badge string*, known or not, so a locked answer does not tell an attacker that a
//!   badge exists.
//! * A disabled account is told apart from a wrong secret only when the secret was
//!   right (so "disabled" reveals nothing to someone guessing).

use crate::permissions::Role;

/// What a role signs in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// Digits only, typed on the keypad.
    Pin,
    /// Any characters.
    Password,
}

impl SecretKind {
    /// The secret a role signs in with: a PIN for the shop-floor roles (operator,
    /// technician), a password for the others.
    pub fn for_role(role: Role) -> SecretKind {
        match role {
            Role::Operator | Role::Technician => SecretKind::Pin,
            _ => SecretKind::Password,
        }
    }

    /// Stable name (`pin`, `password`), a Fluent key stem.
    pub fn name(self) -> &'static str {
        match self {
            SecretKind::Pin => "pin",
            SecretKind::Password => "password",
        }
    }
}

/// Why a new PIN or password is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretProblem {
    #[error("a PIN has at least {min} digits")]
    PinTooShort { min: usize },
    #[error("a PIN has digits only")]
    PinNotDigits,
    #[error("a password has at least {min} characters")]
    PasswordTooShort { min: usize },
}

/// Why a configured policy is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("login policy: {0}")]
pub struct PolicyError(pub String);

/// The rules of secrets and lockout (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginPolicy {
    /// Shortest PIN (operators, technicians).
    pub pin_min: usize,
    /// Shortest password (engineers, supervisors, administrators).
    pub password_min: usize,
    /// Wrong attempts in a row that lock the badge.
    pub max_failures: u32,
    /// How long a lock lasts, ms.
    pub lockout_ms: i64,
}

impl Default for LoginPolicy {
    fn default() -> LoginPolicy {
        LoginPolicy {
            pin_min: Self::PIN_MIN,
            password_min: Self::PASSWORD_MIN,
            max_failures: Self::MAX_FAILURES,
            lockout_ms: Self::LOCKOUT_MS,
        }
    }
}

/// A badge's failure count and lock, as the store keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureState {
    /// Wrong attempts in a row since the last success or lock.
    pub failures: u32,
    /// Unix ms until which the badge is locked.
    pub locked_until_ms: Option<i64>,
}

/// What a sign-in attempt comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Signed in.
    Accepted,
    /// The secret was right but the account is disabled.
    Disabled,
    /// Wrong badge or secret; `left` attempts before the lock.
    Wrong { left: u32 },
    /// This attempt was the last one allowed: the badge is locked until then (raise the
    /// "login locked" alarm now).
    LockedNow { until_ms: i64 },
    /// The badge was locked already; nothing was counted.
    Locked { until_ms: i64 },
}

impl LoginPolicy {
    /// The default shortest PIN.
    pub const PIN_MIN: usize = 6;
    /// The default shortest password.
    pub const PASSWORD_MIN: usize = 10;
    /// The default failures before a lock.
    pub const MAX_FAILURES: u32 = 5;
    /// The default lock, 5 minutes.
    pub const LOCKOUT_MS: i64 = 5 * 60 * 1000;

    /// A policy from configured values, refused when looser than the defaults (a plant
    /// may tighten the rules, never loosen them) or nonsensical.
    pub fn configured(
        pin_min: usize,
        password_min: usize,
        max_failures: u32,
        lockout_ms: i64,
    ) -> Result<LoginPolicy, PolicyError> {
        if pin_min < Self::PIN_MIN {
            return Err(PolicyError(format!(
                "pin_min {pin_min} is below the minimum of {}",
                Self::PIN_MIN
            )));
        }
        if password_min < Self::PASSWORD_MIN {
            return Err(PolicyError(format!(
                "password_min {password_min} is below the minimum of {}",
                Self::PASSWORD_MIN
            )));
        }
        if !(1..=Self::MAX_FAILURES).contains(&max_failures) {
            return Err(PolicyError(format!(
                "max_failures {max_failures} must be 1..={}",
                Self::MAX_FAILURES
            )));
        }
        if lockout_ms < Self::LOCKOUT_MS {
            return Err(PolicyError(format!(
                "a lock of {} s is shorter than the minimum of {} s",
                lockout_ms / 1000,
                Self::LOCKOUT_MS / 1000
            )));
        }
        Ok(LoginPolicy {
            pin_min,
            password_min,
            max_failures,
            lockout_ms,
        })
    }

    /// Whether `secret` may become the secret of a user with `role`.
    pub fn check_new_secret(&self, role: Role, secret: &str) -> Result<(), SecretProblem> {
        let n = secret.chars().count();
        match SecretKind::for_role(role) {
            SecretKind::Pin if !secret.chars().all(|c| c.is_ascii_digit()) => {
                Err(SecretProblem::PinNotDigits)
            }
            SecretKind::Pin if n < self.pin_min => {
                Err(SecretProblem::PinTooShort { min: self.pin_min })
            }
            SecretKind::Password if n < self.password_min => Err(SecretProblem::PasswordTooShort {
                min: self.password_min,
            }),
            _ => Ok(()),
        }
    }

    /// Whether `state` is locked at `now_ms`.
    pub fn locked_at(&self, state: FailureState, now_ms: i64) -> Option<i64> {
        state.locked_until_ms.filter(|&until| until > now_ms)
    }

    /// The outcome of an attempt at `now_ms` on a badge in `state`: `matched` when the
    /// badge is a user's and the secret is theirs, `disabled` when that user is
    /// disabled. Returns the badge's new state and the outcome.
    pub fn judge(
        &self,
        state: FailureState,
        now_ms: i64,
        matched: bool,
        disabled: bool,
    ) -> (FailureState, Attempt) {
        if let Some(until_ms) = self.locked_at(state, now_ms) {
            return (state, Attempt::Locked { until_ms });
        }
        // An expired lock starts the count afresh.
        let failures = if state.locked_until_ms.is_some() {
            0
        } else {
            state.failures
        };
        if matched {
            let outcome = if disabled {
                Attempt::Disabled
            } else {
                Attempt::Accepted
            };
            return (FailureState::default(), outcome);
        }
        let failures = failures.saturating_add(1);
        if failures >= self.max_failures {
            let until_ms = now_ms.saturating_add(self.lockout_ms);
            (
                FailureState {
                    failures: 0,
                    locked_until_ms: Some(until_ms),
                },
                Attempt::LockedNow { until_ms },
            )
        } else {
            (
                FailureState {
                    failures,
                    locked_until_ms: None,
                },
                Attempt::Wrong {
                    left: self.max_failures - failures,
                },
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_for_the_floor_passwords_for_the_office() {
        let p = LoginPolicy::default();
        assert_eq!(p.check_new_secret(Role::Operator, "123456"), Ok(()));
        assert_eq!(
            p.check_new_secret(Role::Operator, "12345"),
            Err(SecretProblem::PinTooShort { min: 6 })
        );
        assert_eq!(
            p.check_new_secret(Role::Technician, "12345a"),
            Err(SecretProblem::PinNotDigits)
        );
        assert_eq!(
            p.check_new_secret(Role::Engineer, "123456789"),
            Err(SecretProblem::PasswordTooShort { min: 10 })
        );
        assert_eq!(p.check_new_secret(Role::Admin, "correct horse"), Ok(()));
        // Characters, not bytes: ten Chinese characters are a ten-character password.
        assert_eq!(
            p.check_new_secret(Role::Supervisor, "键合机键合机键合机键"),
            Ok(())
        );
    }

    #[test]
    fn a_plant_may_tighten_but_not_loosen() {
        assert!(LoginPolicy::configured(8, 12, 3, 600_000).is_ok());
        assert!(LoginPolicy::configured(4, 10, 5, 300_000).is_err());
        assert!(LoginPolicy::configured(6, 8, 5, 300_000).is_err());
        assert!(LoginPolicy::configured(6, 10, 0, 300_000).is_err());
        assert!(LoginPolicy::configured(6, 10, 9, 300_000).is_err());
        assert!(LoginPolicy::configured(6, 10, 5, 60_000).is_err());
    }

    #[test]
    fn five_failures_lock_and_the_lock_expires() {
        let p = LoginPolicy::default();
        let mut s = FailureState::default();
        for left in (1..5).rev() {
            let (next, a) = p.judge(s, 1_000, false, false);
            assert_eq!(a, Attempt::Wrong { left });
            s = next;
        }
        let (s, a) = p.judge(s, 2_000, false, false);
        assert_eq!(a, Attempt::LockedNow { until_ms: 302_000 });
        // Locked: even the right secret is refused, and nothing is counted.
        let (same, a) = p.judge(s, 301_999, true, false);
        assert_eq!((same, a), (s, Attempt::Locked { until_ms: 302_000 }));
        // After the lock the count starts afresh.
        let (s2, a) = p.judge(s, 302_000, false, false);
        assert_eq!(a, Attempt::Wrong { left: 4 });
        assert_eq!(s2.failures, 1);
        let (s3, a) = p.judge(s2, 302_001, true, false);
        assert_eq!((s3, a), (FailureState::default(), Attempt::Accepted));
    }

    #[test]
    fn a_disabled_account_says_so_only_to_the_right_secret() {
        let p = LoginPolicy::default();
        let (_, a) = p.judge(FailureState::default(), 0, true, true);
        assert_eq!(a, Attempt::Disabled);
        let (_, a) = p.judge(FailureState::default(), 0, false, true);
        assert_eq!(a, Attempt::Wrong { left: 4 });
    }
}
