//! Station runtime.
