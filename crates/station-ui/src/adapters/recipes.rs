//! `RecipesAdapter`: the versions of the running recipe, every parameter with unit and
//! range; engineers edit one value with a reason (a new draft version) and release.

use super::{model, num};
use crate::app::Inner;
use crate::store::{AuditEvent, Permission, RecipeVersion, StoreError};
use crate::tr::{Arg, Message, Texts};
use crate::ui::{MainWindow, ParamRow, RecipesAdapter, VersionRow};
use bonder_core::recipe::{Param, Reason, Recipe, RecipeState, Violation, WireMaterial};
use bonder_core::units::Unit;
use slint::ComponentHandle;
use std::rc::Rc;

/// The recipes page's own state.
#[derive(Debug)]
pub(crate) struct RecipesState {
    /// The recipe name whose versions are listed.
    name: String,
    /// The version the machine runs.
    in_use: u32,
    versions: Vec<RecipeVersion>,
    selected: usize,
    /// The parameter being edited.
    editing: Option<Param>,
    edit_error: Option<Message>,
    /// Last result, and whether it is a refusal.
    message: Option<(Message, bool)>,
}

impl RecipesState {
    pub fn new(recipe: &Recipe) -> RecipesState {
        RecipesState {
            name: recipe.name.clone(),
            in_use: recipe.version,
            versions: Vec::new(),
            selected: 0,
            editing: None,
            edit_error: None,
            message: None,
        }
    }

    fn selected_recipe(&self) -> Option<&Recipe> {
        self.versions.get(self.selected).map(|v| &v.recipe)
    }
}

/// The Fluent key of a unit (`None` for plain counts and codes).
pub(crate) fn unit_key(u: Unit) -> Option<&'static str> {
    Some(match u {
        Unit::None | Unit::Code => return None,
        Unit::Micrometres => "unit-micrometres",
        Unit::GramForce => "unit-gram-force",
        Unit::Millis => "unit-millis",
        Unit::Micros => "unit-micros",
        Unit::MilliAmps => "unit-milliamps",
        Unit::Percent => "unit-percent",
        Unit::Celsius => "unit-celsius",
        Unit::LitresPerMin => "unit-litres-per-min",
    })
}

/// The Fluent key of a parameter's name.
pub(crate) fn param_key(p: Param) -> String {
    format!("param-{}", p.spec().key.replace('.', "-"))
}

/// The Fluent key of a validation reason.
pub(crate) fn reason_key(r: Reason) -> &'static str {
    match r {
        Reason::Empty => "violation-empty",
        Reason::UnknownDocVersion => "violation-unknown-doc-version",
        Reason::MinNotBelowMax => "violation-min-not-below-max",
        Reason::NotPositive => "violation-not-positive",
        Reason::NeedsFormingGas => "violation-needs-forming-gas",
        Reason::FabNotLargerThanWire => "violation-fab-not-larger-than-wire",
        Reason::UnknownMaterialCode => "violation-unknown-material-code",
    }
}

fn unit_text(t: Texts, u: Unit) -> String {
    unit_key(u).map(|k| t.t(k)).unwrap_or_default()
}

/// Decimals shown for a parameter (from its register scale).
fn decimals(p: Param) -> usize {
    let c = p.spec().counts_per_unit;
    if c >= 100.0 {
        2
    } else if c >= 10.0 {
        1
    } else {
        0
    }
}

fn value_text(p: Param, v: f64) -> String {
    if p == Param::WireMaterial {
        return WireMaterial::from_code(v as u16).map_or_else(|| num(v, 0), |m| m.to_string());
    }
    num(v, decimals(p))
}

fn range_text(t: Texts, p: Param) -> String {
    let s = p.spec();
    t.ta(
        "recipes-range-value",
        &[
            ("min", num(s.min(), decimals(p))),
            ("max", num(s.max(), decimals(p))),
            ("unit", unit_text(t, s.unit)),
        ],
    )
}

fn out_of_range(p: Param, value: f64) -> Message {
    let s = p.spec();
    Message::with(
        "recipes-out-of-range",
        vec![
            ("value", num(value, decimals(p)).into()),
            ("min", num(s.min(), decimals(p)).into()),
            ("max", num(s.max(), decimals(p)).into()),
            ("unit", Arg::key(unit_key(s.unit).unwrap_or(""))),
        ],
    )
}

pub(crate) fn wire(inner: &Rc<Inner>, w: &MainWindow) {
    let r = w.global::<RecipesAdapter>();
    let i = Rc::downgrade(inner);
    r.on_select_version(move |idx| {
        if let Some(inner) = i.upgrade() {
            inner.touch();
            inner.state.borrow_mut().recipes.selected = idx.max(0) as usize;
            redraw(&inner);
        }
    });
    let i = Rc::downgrade(inner);
    r.on_edit_param(move |idx| {
        if let Some(inner) = i.upgrade() {
            start_edit(&inner, idx);
            redraw(&inner);
        }
    });
    let i = Rc::downgrade(inner);
    r.on_cancel(move || {
        if let Some(inner) = i.upgrade() {
            inner.touch();
            let mut s = inner.state.borrow_mut();
            s.recipes.editing = None;
            s.recipes.edit_error = None;
            drop(s);
            redraw(&inner);
        }
    });
    let i = Rc::downgrade(inner);
    r.on_save(move || {
        if let Some(inner) = i.upgrade() {
            save(&inner);
            redraw(&inner);
        }
    });
    let i = Rc::downgrade(inner);
    r.on_release(move || {
        if let Some(inner) = i.upgrade() {
            release(&inner);
            redraw(&inner);
        }
    });
}

fn redraw(inner: &Inner) {
    if let Some(w) = inner.window.upgrade() {
        refresh(inner, &w);
    }
}

/// Reloads the versions from the library.
pub(crate) fn reload(inner: &Inner) {
    let name = inner.state.borrow().recipes.name.clone();
    match inner.opts.recipes.versions(&name) {
        Ok(versions) => {
            let mut s = inner.state.borrow_mut();
            let keep = s
                .recipes
                .selected_recipe()
                .map(|r| r.version)
                .unwrap_or(s.recipes.in_use);
            s.recipes.selected = versions
                .iter()
                .position(|v| v.recipe.version == keep)
                .unwrap_or(0);
            s.recipes.versions = versions;
        }
        Err(e) => {
            tracing::error!("recipe library: {e}");
            inner.state.borrow_mut().recipes.message = Some((
                Message::with(
                    "recipes-store-failed",
                    vec![("detail", e.to_string().into())],
                ),
                true,
            ));
        }
    }
    redraw(inner);
}

fn start_edit(inner: &Inner, idx: i32) {
    inner.touch();
    let Some(p) = Param::ALL.get(idx.max(0) as usize).copied() else {
        return;
    };
    let role = inner.role();
    if !Permission::EditRecipe.allows_opt(role) {
        let role_key = role.map_or("user-not-logged-in".to_string(), |r| {
            format!("role-{}", r.name())
        });
        inner.audit(AuditEvent::Refused {
            permission: Permission::EditRecipe,
            what: p.spec().key.to_string(),
        });
        inner.state.borrow_mut().recipes.message = Some((
            Message::with("recipes-role-refused", vec![("role", Arg::key(role_key))]),
            true,
        ));
        return;
    }
    let current = inner
        .state
        .borrow()
        .recipes
        .selected_recipe()
        .map(|r| r.value(p));
    let Some(current) = current else {
        return;
    };
    {
        let mut s = inner.state.borrow_mut();
        s.recipes.editing = Some(p);
        s.recipes.edit_error = None;
    }
    if let Some(w) = inner.window.upgrade() {
        let r = w.global::<RecipesAdapter>();
        r.set_edit_value(num(current, decimals(p)).into());
        r.set_edit_reason("".into());
    }
}

/// Validates the edit and saves a new draft version.
fn save(inner: &Inner) {
    inner.touch();
    let Some(w) = inner.window.upgrade() else {
        return;
    };
    let r = w.global::<RecipesAdapter>();
    let (Some(p), Some(base)) = ({
        let s = inner.state.borrow();
        (s.recipes.editing, s.recipes.selected_recipe().cloned())
    }) else {
        return;
    };
    let Some(by) = inner
        .actor()
        .filter(|a| Permission::EditRecipe.allows(a.role))
    else {
        inner.state.borrow_mut().recipes.editing = None;
        return;
    };
    let error = |m: Message| inner.state.borrow_mut().recipes.edit_error = Some(m);
    let text = r.get_edit_value().trim().replace(',', ".");
    let Ok(value) = text.parse::<f64>() else {
        return error(Message::new("recipes-not-a-number"));
    };
    let spec = p.spec();
    if !spec.to_raw(value).is_some_and(|raw| spec.raw_in_range(raw)) {
        return error(out_of_range(p, value));
    }
    let reason = r.get_edit_reason().trim().to_string();
    if reason.is_empty() {
        return error(Message::new("recipes-reason-required"));
    }
    let mut candidate = base.clone();
    if !candidate.set_value(p, value) {
        return error(out_of_range(p, value));
    }
    if let Err(v) = candidate.validate() {
        return error(violation_message(v.0.first()));
    }
    match inner
        .opts
        .recipes
        .save_new_version(&candidate, &by, &reason)
    {
        Ok(saved) => {
            // The store audited the save (with its parameter diff) in its transaction.
            {
                let mut s = inner.state.borrow_mut();
                s.recipes.editing = None;
                s.recipes.edit_error = None;
                s.recipes.message = Some((
                    Message::with("recipes-saved", vec![("id", saved.id().into())]),
                    false,
                ));
                s.recipes.versions.clear();
                s.recipes.selected = 0;
            }
            reload(inner);
            let mut s = inner.state.borrow_mut();
            s.recipes.selected = s
                .recipes
                .versions
                .iter()
                .position(|v| v.recipe.version == saved.version)
                .unwrap_or(0);
        }
        Err(StoreError::Invalid(v)) => error(violation_message(v.0.first())),
        Err(e) => error(Message::with(
            "recipes-store-failed",
            vec![("detail", e.to_string().into())],
        )),
    }
}

fn violation_message(v: Option<&Violation>) -> Message {
    match v {
        Some(Violation::OutOfRange { field, value, .. }) => match Param::from_key(field) {
            Some(p) => out_of_range(p, *value),
            None => Message::with(
                "recipes-invalid",
                vec![("detail", field.to_string().into())],
            ),
        },
        Some(Violation::Invalid { reason, .. }) => Message::with(
            "recipes-invalid",
            vec![("detail", Arg::key(reason_key(*reason)))],
        ),
        None => Message::new("recipes-not-a-number"),
    }
}

fn release(inner: &Inner) {
    inner.touch();
    let Some(by) = inner
        .actor()
        .filter(|a| Permission::ReleaseRecipe.allows(a.role))
    else {
        let what = inner
            .state
            .borrow()
            .recipes
            .selected_recipe()
            .map(|r| r.id())
            .unwrap_or_default();
        inner.audit(AuditEvent::Refused {
            permission: Permission::ReleaseRecipe,
            what,
        });
        inner.state.borrow_mut().recipes.message =
            Some((Message::new("recipes-release-refused"), true));
        return;
    };
    let selected = inner.state.borrow().recipes.selected_recipe().cloned();
    let Some(recipe) = selected.filter(|r| r.state == RecipeState::Draft) else {
        return;
    };
    match inner
        .opts
        .recipes
        .release(&recipe.name, recipe.version, &by)
    {
        Ok(r) => {
            inner.state.borrow_mut().recipes.message = Some((
                Message::with("recipes-released", vec![("id", r.id().into())]),
                false,
            ));
            reload(inner);
        }
        Err(e) => {
            inner.state.borrow_mut().recipes.message = Some((
                Message::with(
                    "recipes-store-failed",
                    vec![("detail", e.to_string().into())],
                ),
                true,
            ))
        }
    }
}

pub(crate) fn refresh(inner: &Inner, w: &MainWindow) {
    let t = inner.texts();
    let s = inner.state.borrow();
    let rs = &s.recipes;
    let r = w.global::<RecipesAdapter>();
    let role = s.user.as_ref().map(|u| u.role);
    r.set_versions(model(
        rs.versions
            .iter()
            .enumerate()
            .map(|(i, v)| VersionRow {
                title: v.recipe.id().into(),
                state: t
                    .t(match v.recipe.state {
                        RecipeState::Draft => "recipe-state-draft",
                        RecipeState::Released => "recipe-state-released",
                        RecipeState::Retired => "recipe-state-retired",
                    })
                    .into(),
                note: if v.reason.is_empty() {
                    String::new()
                } else {
                    t.ta(
                        "recipes-history",
                        &[("user", v.saved_by.clone()), ("reason", v.reason.clone())],
                    )
                }
                .into(),
                selected: i == rs.selected,
                in_use: v.recipe.version == rs.in_use,
            })
            .collect(),
    ));
    let rows: Vec<ParamRow> = match rs.selected_recipe() {
        Some(recipe) => Param::ALL
            .iter()
            .map(|&p| {
                let unit = unit_text(t, p.spec().unit);
                ParamRow {
                    index: p.index() as i32,
                    name: t.t(&param_key(p)).into(),
                    value: format!("{} {unit}", value_text(p, recipe.value(p)))
                        .trim_end()
                        .into(),
                    range: range_text(t, p).trim_end().into(),
                }
            })
            .collect(),
        None => Vec::new(),
    };
    let half = rows.len().div_ceil(2);
    r.set_params_left(model(rows[..half].to_vec()));
    r.set_params_right(model(rows[half..].to_vec()));
    r.set_can_edit(Permission::EditRecipe.allows_opt(role));
    r.set_can_release(
        Permission::ReleaseRecipe.allows_opt(role)
            && rs
                .selected_recipe()
                .is_some_and(|r| r.state == RecipeState::Draft),
    );
    let (msg, is_error) = rs
        .message
        .as_ref()
        .map(|(m, e)| (m.text(t), *e))
        .unwrap_or_default();
    r.set_message(msg.into());
    r.set_message_error(is_error);
    r.set_edit_open(rs.editing.is_some());
    if let Some(p) = rs.editing {
        let name = t.t(&param_key(p));
        r.set_edit_title(t.ta("recipes-edit-title", &[("param", name)]).into());
        let current = rs.selected_recipe().map(|r| r.value(p)).unwrap_or_default();
        r.set_edit_current(
            t.ta(
                "recipes-current-value",
                &[
                    ("value", value_text(p, current)),
                    ("unit", unit_text(t, p.spec().unit)),
                ],
            )
            .into(),
        );
        r.set_edit_range(format!("{}: {}", t.t("recipes-range"), range_text(t, p)).into());
    }
    r.set_edit_error(
        rs.edit_error
            .as_ref()
            .map(|m| m.text(t))
            .unwrap_or_default()
            .into(),
    );
}
