//! Bonder controller simulator.
