//! The store's error type.

use bonder_core::recipe::{RecipeError, RecipeState};

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused or failed (I/O error, busy beyond the timeout, a constraint).
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file outside the database could not be read or written.
    #[error("file: {0}")]
    Io(#[from] std::io::Error),
    /// The file was written by a newer build; it was not changed.
    #[error(
        "the database has schema version {found}, but this build knows only up to \
         {supported}: use a newer station build (the file was not changed)"
    )]
    NewerSchema {
        /// The file's `user_version`.
        found: u32,
        /// The newest schema version this build knows.
        supported: u32,
    },
    /// A recipe document that is malformed or fails validation; every problem is listed.
    #[error("invalid recipe: {0}")]
    InvalidRecipe(#[from] RecipeError),
    /// An edit, release or retirement without a reason.
    #[error("a reason is required")]
    ReasonRequired,
    /// The permission table refuses the actor's role this.
    #[error(transparent)]
    Forbidden(#[from] bonder_core::Forbidden),
    /// A user row whose role no person can hold (unknown to this build, or `system`).
    #[error("user {badge} has the role {role:?}, which no person can hold")]
    UnknownRole {
        /// The user's badge id.
        badge: String,
        /// The stored role name.
        role: String,
    },
    /// No user with this badge id.
    #[error("no user with badge {0}")]
    UserNotFound(String),
    /// The badge id is taken.
    #[error("badge {0} is taken")]
    UserExists(String),
    /// A new PIN or password the login policy refuses.
    #[error("{0}")]
    WeakSecret(#[source] bonder_core::login::SecretProblem),
    /// The change would leave the station without an enabled administrator.
    #[error("the station must keep at least one enabled administrator")]
    LastAdmin,
    /// A secret could not be hashed.
    #[error(transparent)]
    Hash(#[from] bonder_credentials::HashError),
    /// No such recipe, or no such version (`name` or `name@version`).
    #[error("recipe {0} not found")]
    RecipeNotFound(String),
    /// `create` of a name that already has versions (use an edit or an import).
    #[error("recipe {0} already exists")]
    RecipeExists(String),
    /// A document naming a version that is not the next one of its recipe.
    #[error("recipe {recipe}: the next version is {next} / 配方 {recipe}：下一版本应为 {next}")]
    VersionNotNext {
        /// `name@version` as the document says.
        recipe: String,
        /// The version that would be accepted.
        next: u32,
    },
    /// An edit that changes nothing.
    #[error("the edit of recipe {0} changes nothing")]
    NoChanges(String),
    /// Only released versions may be sent to a machine.
    #[error("recipe {recipe} is {state:?}, not released")]
    NotReleased {
        /// `name@version`.
        recipe: String,
        /// Its current state.
        state: RecipeState,
    },
    /// A state change that the life cycle does not allow.
    #[error("recipe {recipe} cannot go from {from:?} to {to:?}")]
    BadTransition {
        /// `name@version`.
        recipe: String,
        /// Its current state.
        from: RecipeState,
        /// The state asked for.
        to: RecipeState,
    },
    /// The audit trail's hash chain is broken at this row.
    #[error("audit trail broken at row {row_id}: {reason}")]
    AuditBroken {
        /// `audit.id` of the first row that does not verify.
        row_id: i64,
        /// What is wrong with it.
        reason: String,
    },
    /// A process-window search is open already (finish or abandon it first).
    #[error(
        "process-window search #{0} is still open: resume it (the same command) or abandon it \
         (--abandon) / 工艺窗口搜索 #{0} 尚未结束：请继续（同一命令）或放弃（--abandon）"
    )]
    WindowSessionOpen(i64),
    /// No open process-window search with this id.
    #[error("no open process-window search #{0} / 没有进行中的工艺窗口搜索 #{0}")]
    WindowSessionNotOpen(i64),
    /// No shift with this id.
    #[error("shift {0} not found")]
    ShiftNotFound(i64),
    /// A stored value this build cannot read (an unknown code, a damaged curve).
    #[error("unreadable stored value: {0}")]
    Corrupt(String),
    /// The writer could not commit a batch; its operations are kept and retried.
    #[error("writer could not commit: {0}")]
    CommitFailed(String),
    /// A bulk operation was refused: the writer already holds this many (the store is
    /// failing or far behind).
    #[error(
        "the store writer holds {0} operations already: record refused / 存储写入队列已满（{0} 项）：记录被拒绝"
    )]
    QueueFull(usize),
    /// The writer thread has stopped (closed, or its handle's channel is gone).
    #[error("the store writer has stopped")]
    WriterStopped,
    /// CSV export failed.
    #[error("CSV export: {0}")]
    Csv(#[from] csv::Error),
    /// XLSX export failed.
    #[error("XLSX export: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}
