-- v2: messages queued for the gateway other than bonds (alarms, changeovers, shift
-- reports). A row is deleted when the broker acknowledges it (store and forward).
CREATE TABLE outbox_messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    created_ms INTEGER NOT NULL,
    topic      TEXT NOT NULL,
    payload    TEXT NOT NULL
);
