//! Loading shifts and their notes from a connection: shared by the [`Reader`](crate::Reader)
//! and the shift summary ([`crate::shift`]), which therefore need not know each other.

use crate::StoreError;
use crate::records::{Shift, ShiftNote};
use crate::timefmt::from_unix_ms;
use rusqlite::{Connection, OptionalExtension, Row};

pub(crate) fn shift_from_row(r: &Row<'_>) -> rusqlite::Result<Shift> {
    Ok(Shift {
        id: r.get(0)?,
        started: from_unix_ms(r.get(1)?),
        ended: r.get::<_, Option<i64>>(2)?.map(from_unix_ms),
        operator: r.get(3)?,
        team: r.get(4)?,
    })
}

pub(crate) const SELECT_SHIFT: &str = "SELECT id, started_ms, ended_ms, operator, team FROM shifts";

pub(crate) fn load_shift(conn: &Connection, id: i64) -> Result<Option<Shift>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("{SELECT_SHIFT} WHERE id = ?1"))?
        .query_row([id], shift_from_row)
        .optional()?)
}

pub(crate) fn load_notes(conn: &Connection, shift_id: i64) -> Result<Vec<ShiftNote>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT time_ms, author, text FROM shift_notes WHERE shift_id = ?1 ORDER BY time_ms, id",
    )?;
    let rows = stmt.query_map([shift_id], |r| {
        Ok(ShiftNote {
            shift_id,
            time: from_unix_ms(r.get(0)?),
            author: r.get(1)?,
            text: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
