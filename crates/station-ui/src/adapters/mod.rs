//! One module per Slint adapter global: wiring its callbacks and filling its properties.

pub mod alarms;
pub mod camera;
pub mod changeover;
pub mod curves;
pub mod gem;
pub mod health;
pub mod production;
pub mod recipes;
pub mod session;
pub mod shift;
pub mod window;

use slint::{ModelRc, VecModel};

/// A Slint model from a vector.
pub(crate) fn model<T: Clone + 'static>(items: Vec<T>) -> ModelRc<T> {
    ModelRc::new(VecModel::from(items))
}

/// A number with a fixed count of decimals.
pub(crate) fn num(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "–".into()
    }
}
