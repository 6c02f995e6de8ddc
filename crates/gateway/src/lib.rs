//! Station ↔ plant gateway over MQTT (`docs/spec/gateway-mqtt.md`).
//!
//! * [`payload`]: every topic's JSON, field for field;
//! * [`topics`]: the station id (`site/area/line/station`) and its topics;
//! * [`signed`]: version 2's signed commands (JWS, EdDSA) and the trusted keys;
//! * [`commands`]: checking `cmd/recipe`, `cmd/workorder` and `cmd/backfill` in the
//!   contract's order;
//! * [`client`]: the store-and-forward publisher ([`Gateway`]) over rumqttc;
//! * [`broker`]: the embedded rumqttd broker for single-machine setups.
//!
//! **Architecture invariant:** this crate knows MQTT and the payloads; what is durable
//! comes through the [`Outbox`] trait (implemented over the station's store), so nothing
//! here keeps data that a crash could lose.

pub mod broker;
pub mod client;
pub mod commands;
pub mod config;
pub mod guard;
pub mod payload;
pub mod signed;
pub mod topics;

pub use client::{CommandRequest, Gateway, GatewayState, Outbox, OutboxError, QueuedMessage};
pub use commands::{Accepted, CommandPolicy, GatewayCommand, Rejection};
pub use config::GatewayConfig;
pub use guard::{CommandGuard, CommandLedger, CommandRecord};
pub use signed::{RefusalCode, Signer, TrustStore};
pub use topics::{StationId, Topic};
