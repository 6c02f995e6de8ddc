//! Station ↔ plant gateway over MQTT (`docs/spec/gateway-mqtt.md`).
//!
//! * [`payload`]: every topic's JSON, field for field;
//! * [`topics`]: the station id (`site/area/line/station`) and its topics;
//! * [`commands`]: checking `cmd/recipe` and `cmd/workorder`;
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
pub mod payload;
pub mod topics;

pub use client::{CommandRequest, Gateway, GatewayState, Outbox, OutboxError, QueuedMessage};
pub use commands::GatewayCommand;
pub use config::GatewayConfig;
pub use topics::{StationId, Topic};
