//! The supervisor's domain, without any UI: what the gateway brings (MQTT ingest), the
//! supervisor's own SQLite history, the fleet model (tiles, worst first), reports (shift,
//! line, changeover; CSV, XLSX, print-ready HTML), SPC charts and capability, the recipe
//! library with version diff, and local users with argon2 password hashes.
//!
//! **Architecture invariant:** this crate knows no window and no Tauri; the supervisor
//! app (`src-tauri`) only adapts its functions to commands. The statistics themselves
//! are in `bonder_core::spc` (pure).

pub mod charts;
pub mod export;
pub mod history;
pub mod model;
pub mod recipes;
pub mod reports;
pub mod schema;
pub mod secrets;
pub mod service;
pub mod signing;
pub mod spc;
pub mod synth;
pub mod users;

pub use history::History;
pub use model::{Commonality, Condition, Excursions, Fleet, OpenExcursion, Tile};
pub use service::{GatewaySettings, LinkState, ResultEvent, Supervisor};

/// An error of the supervisor core.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("history: {0}")]
    Db(#[from] rusqlite::Error),
    /// The history file was written by a newer build; it is left untouched.
    #[error(
        "the history file has schema version {found}; this build knows up to {supported}: use the newer build (the file was not changed)"
    )]
    NewerSchema { found: u32, supported: u32 },
    #[error("settings: {0}")]
    Config(String),
    #[error("not connected to the gateway")]
    NotConnected,
    #[error("gateway: {0}")]
    Mqtt(String),
    #[error("{0}")]
    Invalid(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("export: {0}")]
    Export(String),
    /// A different document for a `name@version` the library holds already.
    #[error(
        "recipe {id}: a different document for an existing version (stored sha256 {stored}, offered {offered}): give it a new version"
    )]
    RecipeConflict {
        id: String,
        stored: String,
        offered: String,
    },
    /// The signed-in user's role may not do this (checked before anything is signed).
    #[error(transparent)]
    Forbidden(#[from] bonder_core::permissions::Forbidden),
}
