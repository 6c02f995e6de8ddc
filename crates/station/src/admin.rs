//! The command line's administration for headless deployments: the station's users
//! (`users add|list|disable|enable|reset|role`) and the audit export for a plant SIEM
//! (`audit export --since … --format syslog|csv`).
//!
//! The command line acts as the station's **local administrator**: whoever can run it
//! as the OS account that owns the store (mode 0600) can read and write that file
//! anyway. Its audit rows name `cli:<os user>` in the role `admin`, so they are told
//! apart from a panel administrator. Secrets are read from standard input, one line
//! (echo off on a terminal), never from an argument (`ps` shows arguments to everyone).

use anyhow::{Context, bail};
use bonder_core::login::LoginPolicy;
use bonder_core::text::spreadsheet_safe;
use bonder_store::audit::AuditEntry;
use bonder_store::{
    AccountChange, Actor, AuditAction, AuditRecord, NewUser, Role, Store, UserSummary,
};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use time::OffsetDateTime;

/// Who the command line acts as.
pub fn cli_actor() -> Actor {
    let who = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    Actor::new(format!("cli:{who}"), Role::Admin)
}

/// Reads a secret: one line of standard input. On a terminal it prompts on stderr and
/// turns the echo off while typing (`stty`).
pub fn read_secret(prompt: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    let stty = |arg: &str| {
        let _ = std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status();
    };
    if tty {
        eprint!("{prompt}: ");
        let _ = std::io::stderr().flush();
        stty("-echo");
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if tty {
        stty("echo");
        eprintln!();
    }
    read.context("reading the secret from standard input")?;
    let secret = line.trim_end_matches(['\r', '\n']).to_string();
    if secret.is_empty() {
        bail!("no secret on standard input (one line) / 标准输入中没有密码（一行）");
    }
    Ok(secret)
}

/// A person signs in from standard input (badge, then PIN or password, one line each),
/// with the touch screen's policy and lockout (`via: cli`, audited by the store).
pub fn sign_in_from_stdin(store: &Store, policy: &LoginPolicy) -> anyhow::Result<Actor> {
    let badge = read_secret("badge")?;
    let secret = read_secret(&format!("PIN or password for {badge}"))?;
    let r = store
        .sign_in(
            badge.trim(),
            &secret,
            policy,
            OffsetDateTime::now_utc(),
            "cli",
        )
        .map_err(explain)?;
    match (r.attempt, r.user) {
        (bonder_core::login::Attempt::Accepted, Some(u)) => Ok(Actor::new(u.badge, u.role)),
        (a, _) => bail!("sign-in refused ({a:?}) / 登录被拒绝"),
    }
}

fn role(name: &str) -> anyhow::Result<Role> {
    Role::person_from_name(name).with_context(|| {
        format!(
            "role {name:?}: expected one of {} / 未知角色",
            Role::PEOPLE.map(Role::name).join(", ")
        )
    })
}

fn open(db: &Path) -> anyhow::Result<Store> {
    Store::open(db).with_context(|| format!("store {}", db.display()))
}

/// Bilingual text of a store refusal the administrator can act on.
fn explain(e: bonder_store::StoreError) -> anyhow::Error {
    use bonder_store::StoreError as E;
    let zh = match &e {
        E::WeakSecret(_) => "密码不符合登录策略",
        E::UserExists(_) => "该工号已被使用",
        E::UserNotFound(_) => "没有该工号的用户",
        E::LastAdmin => "本机必须保留至少一名启用的管理员",
        _ => "",
    };
    if zh.is_empty() {
        anyhow::Error::new(e)
    } else {
        anyhow::anyhow!("{e} / {zh}")
    }
}

/// `users add`.
pub fn add(
    db: &Path,
    policy: &LoginPolicy,
    badge: &str,
    name: &str,
    role_name: &str,
    lang: &str,
    secret: &str,
) -> anyhow::Result<()> {
    let role = role(role_name)?;
    let store = open(db)?;
    let by = cli_actor();
    // The first user of an empty store is created as the first administrator.
    let first = store.user_count()? == 0;
    store
        .create_user(
            &NewUser {
                badge: badge.into(),
                name: name.into(),
                role,
                lang: lang.into(),
            },
            secret,
            policy,
            (!first).then_some(&by),
        )
        .map_err(explain)?;
    println!("added {badge} ({name}) as {}", role.name());
    Ok(())
}

/// `users list`: one line per user.
pub fn list(db: &Path) -> anyhow::Result<Vec<UserSummary>> {
    Ok(open(db)?.list_users(OffsetDateTime::now_utc())?)
}

/// Prints `users list`.
pub fn print_list(users: &[UserSummary]) {
    println!(
        "{:<16} {:<24} {:<11} {:<6} state",
        "badge", "name", "role", "lang"
    );
    for u in users {
        let state = if u.disabled {
            "disabled".to_string()
        } else if let Some(t) = u.locked_until_ms {
            format!("locked until {}", ms_text(t))
        } else {
            "enabled".to_string()
        };
        println!(
            "{:<16} {:<24} {:<11} {:<6} {state}",
            u.badge,
            u.name,
            u.role.name(),
            u.lang
        );
    }
}

fn ms_text(ms: i64) -> String {
    bonder_store::timefmt::rfc3339_ms(bonder_store::timefmt::from_unix_ms(ms))
}

/// `users disable|enable|reset|role`.
pub fn change(
    db: &Path,
    policy: &LoginPolicy,
    badge: &str,
    change: AccountChange,
) -> anyhow::Result<()> {
    let what = match &change {
        AccountChange::Role(r) => format!("{badge} is now {}", r.name()),
        AccountChange::Secret(_) => format!("the secret of {badge} was reset"),
        AccountChange::Disabled(true) => format!("{badge} is disabled"),
        AccountChange::Disabled(false) => format!("{badge} is enabled"),
    };
    open(db)?
        .change_user(badge, &change, policy, &cli_actor())
        .map_err(explain)?;
    println!("{what}");
    Ok(())
}

/// The role of a `users role` argument.
pub fn parse_role(name: &str) -> anyhow::Result<Role> {
    role(name)
}

/// What `audit export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    /// RFC 5424 lines.
    Syslog,
    /// CSV with a header row, cells that a spreadsheet would run written as text.
    Csv,
}

/// `--since`: RFC 3339 (`2026-12-01T06:00:00Z`) or a UTC date (`2026-12-01`).
pub fn parse_since(s: &str) -> anyhow::Result<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt)
        .map(|d| d.midnight().assume_utc())
        .with_context(|| {
            format!("--since {s:?}: expected 2026-12-01 or 2026-12-01T06:00:00Z / 时间格式错误")
        })
}

/// An RFC 5424 SD-PARAM value: `"`, `\` and `]` escaped, control characters (a
/// newline in a reason would split the line) as spaces.
fn sd_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

/// The host name for syslog's HOSTNAME field (`-` when unknown).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty() && s.is_ascii() && !s.contains(' '))
        .unwrap_or_else(|| "-".into())
}

/// One audit row as an RFC 5424 line: facility 13 (log audit), severity warning (4)
/// for refusals and lockouts, notice (5) otherwise; MSGID the action; the row's fields
/// in the structured data element `audit@32473` (32473 is the example enterprise number
/// of RFC 5612: a plant with its own number replaces it in its SIEM's parser); the
/// message a readable summary.
pub fn syslog_line(e: &AuditEntry, host: &str, station: &str) -> String {
    let warn = matches!(
        AuditAction::from_name(&e.action),
        Some(AuditAction::Refused | AuditAction::Lockout)
    );
    let pri = 13 * 8 + if warn { 4 } else { 5 };
    let mut sd = format!(
        "[audit@32473 station=\"{}\" id=\"{}\" user=\"{}\" role=\"{}\" object=\"{}\"",
        sd_value(station),
        e.id,
        sd_value(&e.user),
        sd_value(&e.role),
        sd_value(&e.object)
    );
    for (k, v) in [
        ("old", &e.old_value),
        ("new", &e.new_value),
        ("reason", &e.reason),
    ] {
        if let Some(v) = v {
            sd += &format!(" {k}=\"{}\"", sd_value(v));
        }
    }
    sd += &format!(" hash=\"{}\"]", e.hash);
    let msgid: String = e
        .action
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(32)
        .collect();
    let mut msg = format!("{} {} by {} ({})", e.action, e.object, e.user, e.role);
    if let Some(r) = &e.reason {
        msg += &format!(": {r}");
    }
    // Control characters (a newline in a reason) would split the line.
    let msg: String = msg
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!(
        "<{pri}>1 {} {host} bonder-station - {msgid} {sd} \u{feff}{msg}",
        e.ts
    )
}

/// `audit export`: rows since `since` to `out`; returns how many. The export itself is
/// audited (who, since when, how many) after it is written.
pub fn audit_export(
    db: &Path,
    station: &str,
    since: OffsetDateTime,
    format: AuditFormat,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let store = open(db)?;
    let reader = store.reader()?;
    let host = hostname();
    // Page by page, so a long trail is never held in memory.
    let each_row = |f: &mut dyn FnMut(&AuditEntry) -> anyhow::Result<()>| -> anyhow::Result<u64> {
        let (mut n, mut after) = (0u64, 0i64);
        loop {
            let rows = reader.audit_since(since, after, 1000)?;
            let Some(last) = rows.last() else {
                return Ok(n);
            };
            after = last.id;
            for e in &rows {
                f(e)?;
                n += 1;
            }
        }
    };
    let n = match format {
        AuditFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record([
                "id",
                "ts",
                "user",
                "role",
                "action",
                "object",
                "old_value",
                "new_value",
                "reason",
                "prev_hash",
                "hash",
            ])?;
            let n = each_row(&mut |e| {
                let cell =
                    |v: &Option<String>| spreadsheet_safe(v.as_deref().unwrap_or("")).into_owned();
                w.write_record([
                    e.id.to_string(),
                    e.ts.clone(),
                    spreadsheet_safe(&e.user).into_owned(),
                    e.role.clone(),
                    e.action.clone(),
                    spreadsheet_safe(&e.object).into_owned(),
                    cell(&e.old_value),
                    cell(&e.new_value),
                    cell(&e.reason),
                    e.prev_hash.clone(),
                    e.hash.clone(),
                ])?;
                Ok(())
            })?;
            w.flush()?;
            n
        }
        AuditFormat::Syslog => each_row(&mut |e| {
            writeln!(out, "{}", syslog_line(e, &host, station))?;
            Ok(())
        })?,
    };
    out.flush()?;
    audit_export_row(
        &store,
        "audit".into(),
        serde_json::json!({
            "since": bonder_store::timefmt::rfc3339_ms(since),
            "format": match format { AuditFormat::Csv => "csv", AuditFormat::Syslog => "syslog" },
            "rows": n,
        }),
    )?;
    Ok(n)
}

/// The `export` row of data the command line let out of the station.
fn audit_export_row(
    store: &Store,
    object: String,
    detail: serde_json::Value,
) -> anyhow::Result<()> {
    let by = cli_actor();
    store.append_audit(&AuditRecord {
        time: OffsetDateTime::now_utc(),
        user: by.user,
        role: Some(by.role),
        action: AuditAction::Export,
        object,
        old_value: None,
        new_value: Some(detail.to_string()),
        reason: None,
    })?;
    Ok(())
}

/// `opcua trust FILE`: the client certificate goes into the PKI's `trusted/` (and out of
/// `rejected/`); audited as the local administrator with the certificate's subject and
/// thumbprint.
pub fn opcua_trust(
    db: &Path,
    pki: &Path,
    file: &Path,
) -> anyhow::Result<bonder_opcua::pki::CertInfo> {
    let store = Store::open(db).with_context(|| format!("store {}", db.display()))?;
    let info = bonder_opcua::pki::trust(pki, file)?;
    let by = cli_actor();
    store.append_audit(&AuditRecord {
        time: OffsetDateTime::now_utc(),
        user: by.user,
        role: Some(by.role),
        action: AuditAction::Trust,
        object: format!("opcua:cert:{}", info.thumbprint),
        old_value: None,
        new_value: Some(
            serde_json::json!({
                "subject": info.subject,
                "file": info.file.display().to_string(),
            })
            .to_string(),
        ),
        reason: Some("OPC UA client certificate trusted".into()),
    })?;
    Ok(info)
}

/// Audits an export or backup made from the command line (`what`: `bonds`,
/// `shift`, `changeovers`, `backup`), naming the file.
pub fn audit_file_export(store: &Store, what: &str, file: &Path) -> anyhow::Result<()> {
    audit_export_row(
        store,
        format!("export:{what}"),
        serde_json::json!({ "file": file.display().to_string() }),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn since_reads_dates_and_times() {
        assert_eq!(
            parse_since("2026-12-01").unwrap(),
            time::macros::datetime!(2026-12-01 00:00 UTC)
        );
        assert_eq!(
            parse_since("2026-12-01T06:30:00+08:00").unwrap(),
            time::macros::datetime!(2026-11-30 22:30 UTC)
        );
        assert!(
            parse_since("yesterday")
                .unwrap_err()
                .to_string()
                .contains("--since")
        );
    }

    #[test]
    fn a_syslog_line_is_rfc5424_with_escaped_structured_data() {
        let e = AuditEntry {
            id: 7,
            ts: "2026-12-01T06:00:00.123Z".into(),
            user: "OP\"1".into(),
            role: "none".into(),
            action: "refused".into(),
            object: "login:OP]1".into(),
            old_value: None,
            new_value: Some(r#"{"via":"panel"}"#.into()),
            reason: Some("wrong\nsecret".into()),
            prev_hash: "0".repeat(64),
            hash: "ab".repeat(32),
        };
        let l = syslog_line(&e, "wb-01", "sz1/assembly/l1/wb-01");
        assert!(
            l.starts_with(
                "<108>1 2026-12-01T06:00:00.123Z wb-01 bonder-station - refused [audit@32473 "
            ),
            "{l}"
        );
        assert!(l.contains(r#"user="OP\"1""#), "{l}");
        assert!(l.contains(r#"object="login:OP\]1""#), "{l}");
        assert!(l.contains(r#"new="{\"via\":\"panel\"}""#), "{l}");
        assert!(!l.contains('\n'), "one line: {l}");
        assert!(l.contains("\u{feff}refused login:OP]1 by OP\"1"), "{l}");
    }
}
