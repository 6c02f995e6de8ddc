//! The supervisor's own rows in the history: commands it sent and their answers, its
//! recipe library, its users and settings.

use super::*;

impl History {
    /// Records a command sent.
    pub fn record_command(&mut self, c: &CommandRow) -> Result<(), FleetError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO commands (request_id, station, kind, sent_ms, summary, by_user) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![c.request_id, c.station, c.kind, c.sent_ms, c.summary, c.by_user],
        )?;
        Ok(())
    }

    /// Records a station's answer; `false` when no such command was sent by us.
    pub fn record_result(&mut self, station: &str, r: &CmdResult) -> Result<bool, FleetError> {
        let Some(id) = &r.request_id else {
            return Ok(false);
        };
        let n = self.conn.execute(
            "UPDATE commands SET ok = ?1, error = ?2, answered_ms = ?3 WHERE request_id = ?4 AND station = ?5",
            params![bool_i(r.ok), r.error, now_ms(), id, station],
        )?;
        Ok(n > 0)
    }

    /// The newest commands.
    pub fn commands(&self, limit: usize) -> Result<Vec<CommandRow>, FleetError> {
        let mut st = self.conn.prepare_cached(
            "SELECT request_id, station, kind, sent_ms, summary, by_user, ok, error, answered_ms FROM commands ORDER BY sent_ms DESC LIMIT ?1",
        )?;
        let rows = st.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok(CommandRow {
                request_id: r.get(0)?,
                station: r.get(1)?,
                kind: r.get(2)?,
                sent_ms: r.get(3)?,
                summary: r.get(4)?,
                by_user: r.get(5)?,
                ok: r.get::<_, Option<i64>>(6)?.map(|v| v != 0),
                error: r.get(7)?,
                answered_ms: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Adds a recipe version (a version already there is left as it is); `true` if new.
    pub fn put_recipe(
        &mut self,
        name: &str,
        version: u32,
        state: &str,
        doc: &str,
        source: &str,
    ) -> Result<bool, FleetError> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO recipes (name, version, state, doc, source, added_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![name, version, state, doc, source, now_ms()],
        )?;
        Ok(n == 1)
    }

    /// Marks a version released with its released document.
    pub fn set_recipe_released(
        &mut self,
        name: &str,
        version: u32,
        doc: &str,
    ) -> Result<bool, FleetError> {
        let n = self.conn.execute(
            "UPDATE recipes SET state = 'released', doc = ?3 WHERE name = ?1 AND version = ?2",
            params![name, version, doc],
        )?;
        Ok(n == 1)
    }

    /// Every recipe version, by name then version.
    pub fn recipes(&self) -> Result<Vec<RecipeRow>, FleetError> {
        let mut st = self.conn.prepare_cached(
            "SELECT name, version, state, source, added_ms, doc FROM recipes ORDER BY name, version",
        )?;
        let rows = st.query_map([], |r| {
            Ok(RecipeRow {
                name: r.get(0)?,
                version: r.get(1)?,
                state: r.get(2)?,
                source: r.get(3)?,
                added_ms: r.get(4)?,
                doc: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One recipe version's document.
    pub fn recipe(&self, name: &str, version: u32) -> Result<Option<String>, FleetError> {
        Ok(self
            .conn
            .query_row(
                "SELECT doc FROM recipes WHERE name = ?1 AND version = ?2",
                params![name, version],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// A user, enabled or not.
    pub fn user(&self, name: &str) -> Result<Option<(UserRow, bool)>, FleetError> {
        Ok(self
            .conn
            .query_row(
                "SELECT name, role, phc, disabled FROM users WHERE name = ?1",
                [name],
                |r| {
                    Ok((
                        UserRow {
                            name: r.get(0)?,
                            role: r.get(1)?,
                            phc: r.get(2)?,
                        },
                        r.get::<_, i64>(3)? == 0,
                    ))
                },
            )
            .optional()?)
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<UserInfo>, FleetError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT name, role, disabled FROM users ORDER BY name")?;
        let rows = st.query_map([], |r| {
            Ok(UserInfo {
                name: r.get(0)?,
                role: r.get(1)?,
                enabled: r.get::<_, i64>(2)? == 0,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Adds a user, or changes the role and password of one (enabled or not: that is
    /// left as it is).
    pub fn put_user(&mut self, u: &UserRow) -> Result<(), FleetError> {
        self.conn.execute(
            "INSERT INTO users (name, role, phc) VALUES (?1, ?2, ?3) \
             ON CONFLICT (name) DO UPDATE SET role = excluded.role, phc = excluded.phc",
            params![u.name, u.role, u.phc],
        )?;
        Ok(())
    }

    /// Adds a user unless the name is taken; whether it was added.
    pub fn insert_user(&mut self, u: &UserRow) -> Result<bool, FleetError> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO users (name, role, phc) VALUES (?1, ?2, ?3)",
            params![u.name, u.role, u.phc],
        )?;
        Ok(n == 1)
    }

    /// Changes a user's role; whether the user exists.
    pub fn set_user_role(&mut self, name: &str, role: &str) -> Result<bool, FleetError> {
        let n = self.conn.execute(
            "UPDATE users SET role = ?2 WHERE name = ?1",
            params![name, role],
        )?;
        Ok(n == 1)
    }

    /// Replaces a user's password hash; whether the user exists.
    pub fn set_user_phc(&mut self, name: &str, phc: &str) -> Result<bool, FleetError> {
        let n = self.conn.execute(
            "UPDATE users SET phc = ?2 WHERE name = ?1",
            params![name, phc],
        )?;
        Ok(n == 1)
    }

    /// Enables or disables a user; whether the user exists.
    pub fn set_user_enabled(&mut self, name: &str, enabled: bool) -> Result<bool, FleetError> {
        let n = self.conn.execute(
            "UPDATE users SET disabled = ?2 WHERE name = ?1",
            params![name, bool_i(!enabled)],
        )?;
        Ok(n == 1)
    }

    /// Adds `u` only if there is no user at all (one statement, so two first starts
    /// cannot both succeed); whether it was added.
    pub fn put_first_user(&mut self, u: &UserRow) -> Result<bool, FleetError> {
        let n = self.conn.execute(
            "INSERT INTO users (name, role, phc) SELECT ?1, ?2, ?3 \
             WHERE NOT EXISTS (SELECT 1 FROM users)",
            params![u.name, u.role, u.phc],
        )?;
        Ok(n == 1)
    }

    /// Number of users.
    pub fn user_count(&self) -> Result<u64, FleetError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// A setting.
    pub fn setting(&self, key: &str) -> Result<Option<String>, FleetError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Sets a setting.
    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<(), FleetError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
            params![key, value],
        )?;
        Ok(())
    }

    /// A name's failed sign-ins and lock.
    pub fn login_failures(&self, name: &str) -> Result<FailureState, FleetError> {
        Ok(self
            .conn
            .query_row(
                "SELECT failures, locked_until_ms FROM login_failures WHERE name = ?1",
                [name],
                |r| {
                    Ok(FailureState {
                        failures: u32::try_from(r.get::<_, i64>(0)?).unwrap_or(u32::MAX),
                        locked_until_ms: r.get(1)?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    /// Stores a name's failed sign-ins and lock (the default state removes the row).
    pub fn set_login_failures(&mut self, name: &str, s: FailureState) -> Result<(), FleetError> {
        if s == FailureState::default() {
            self.conn
                .execute("DELETE FROM login_failures WHERE name = ?1", [name])?;
        } else {
            self.conn.execute(
                "INSERT INTO login_failures (name, failures, locked_until_ms) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET failures = ?2, locked_until_ms = ?3",
                params![name, i64::from(s.failures), s.locked_until_ms],
            )?;
        }
        Ok(())
    }

    /// Appends a row to the supervisor's audit trail.
    pub fn append_audit(&mut self, a: &AuditRow) -> Result<i64, FleetError> {
        self.conn.execute(
            "INSERT INTO audit (ts_ms, user, role, action, object, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![a.ts_ms, a.user, a.role, a.action, a.object, a.detail],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Copies the write-ahead log into the file and empties it (after a secret left
    /// the history: with `secure_delete` its old bytes are then gone from both).
    pub fn checkpoint(&self) -> Result<(), FleetError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// The connection (tests: to show that the trail refuses changes).
    #[cfg(test)]
    pub(crate) fn conn_for_tests(&self) -> &Connection {
        &self.conn
    }

    /// The newest `limit` audit rows, newest first.
    pub fn audit(&self, limit: usize) -> Result<Vec<AuditRow>, FleetError> {
        let mut st = self.conn.prepare_cached(
            "SELECT ts_ms, user, role, action, object, detail FROM audit ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = st.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok(AuditRow {
                ts_ms: r.get(0)?,
                user: r.get(1)?,
                role: r.get(2)?,
                action: r.get(3)?,
                object: r.get(4)?,
                detail: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
