//! Recipe versioning, diffs, release rules, role gating, JSON import/export.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use bonder_core::recipe::{Recipe, RecipeError, RecipeState};
use bonder_store::{Actor, AuditAction, ParamChange, Role, Store, StoreError};
use common::{dump, engineer, operator};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("station.db")).unwrap();
    (dir, store)
}

fn change(key: &str, old: &str, new: &str) -> ParamChange {
    ParamChange {
        key: key.into(),
        old_value: old.into(),
        new_value: new.into(),
    }
}

/// The main file and its WAL, byte for byte.
fn file_bytes(store: &Store) -> Vec<Vec<u8>> {
    let mut wal = store.path().as_os_str().to_owned();
    wal.push("-wal");
    [store.path().to_path_buf(), wal.into()]
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_default())
        .collect()
}

#[test]
fn edits_make_new_versions_with_their_diff_and_never_overwrite() {
    let (_dir, store) = store();
    let repo = store.recipes();
    let v1 = repo
        .create(&Recipe::default_au(), &engineer(), "new device")
        .unwrap();
    assert_eq!(
        (v1.version, v1.state, v1.base_version),
        (1, RecipeState::Draft, None)
    );
    assert!(repo.changes("SOT23-AU25", 1).unwrap().is_empty());

    let mut edited = repo.get("SOT23-AU25", 1).unwrap();
    edited.ball.force_gf.0 = 32.0;
    edited.limits.placement_um.0 = 2.5;
    // The permission table: a technician may not edit a recipe; nothing is written.
    assert!(matches!(
        repo.edit(
            1,
            &edited,
            &Actor::new("T3", Role::Technician),
            "NSOP on lot 4711"
        ),
        Err(StoreError::Forbidden(f)) if f.role == Role::Technician
    ));
    let v2 = repo
        .edit(
            1,
            &edited,
            &Actor::new("E7", Role::Engineer),
            "NSOP on lot 4711",
        )
        .unwrap();
    assert_eq!(
        (v2.version, v2.state, v2.base_version),
        (2, RecipeState::Draft, Some(1))
    );
    assert_eq!(
        (v2.created_by.as_str(), v2.reason.as_str()),
        ("E7", "NSOP on lot 4711")
    );
    let expected = vec![
        change("ball.force_gf", "30", "32"),
        change("limits.placement_um", "3", "2.5"),
    ];
    assert_eq!(repo.changes("SOT23-AU25", 2).unwrap(), expected);
    assert_eq!(repo.diff("SOT23-AU25", 1, 2).unwrap(), expected);
    assert_eq!(
        repo.get("SOT23-AU25", 1).unwrap().ball.force_gf.0,
        30.0,
        "v1 untouched"
    );

    // An edit of an old version still gets the next number, diffed against its base.
    let mut from_v1 = repo.get("SOT23-AU25", 1).unwrap();
    from_v1.heater_temp_c.0 = 190.0;
    let v3 = repo.edit(1, &from_v1, &engineer(), "hotter").unwrap();
    assert_eq!((v3.version, v3.base_version), (3, Some(1)));
    assert_eq!(
        repo.changes("SOT23-AU25", 3).unwrap(),
        vec![change("heater_temp_c", "180", "190")]
    );
    assert_eq!(repo.diff("SOT23-AU25", 2, 3).unwrap().len(), 3);

    assert!(matches!(
        repo.edit(3, &repo.get("SOT23-AU25", 3).unwrap(), &engineer(), "same"),
        Err(StoreError::NoChanges(_))
    ));
    assert!(matches!(
        repo.edit(2, &edited, &engineer(), "  "),
        Err(StoreError::ReasonRequired)
    ));
    assert!(matches!(
        repo.edit(9, &edited, &engineer(), "no such base"),
        Err(StoreError::RecipeNotFound(_))
    ));
    assert!(matches!(
        repo.create(&Recipe::default_au(), &engineer(), "again"),
        Err(StoreError::RecipeExists(_))
    ));
    let versions: Vec<u32> = repo
        .versions("SOT23-AU25")
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(versions, [1, 2, 3]);
    assert_eq!(repo.names().unwrap(), ["SOT23-AU25"]);

    // Not even SQL can overwrite a version.
    let c = rusqlite::Connection::open(store.path()).unwrap();
    let err = c
        .execute(
            "UPDATE recipe_versions SET doc = '{}' WHERE version = 1",
            [],
        )
        .unwrap_err();
    assert!(err.to_string().contains("never overwritten"), "{err}");
    assert!(c.execute("DELETE FROM recipe_versions", []).is_err());
}

#[test]
fn an_invalid_recipe_is_refused_on_create_and_edit() {
    let (_dir, store) = store();
    let repo = store.recipes();
    let mut bad = Recipe::default_cu();
    bad.forming_gas_l_min.0 = 12.5;
    bad.heater_temp_c.0 = 400.0;
    match repo.create(&bad, &engineer(), "try") {
        Err(StoreError::InvalidRecipe(RecipeError::Invalid(v))) => assert_eq!(v.0.len(), 2),
        other => panic!("{other:?}"),
    }
    repo.create(&Recipe::default_cu(), &engineer(), "ok")
        .unwrap();
    assert!(matches!(
        repo.edit(1, &bad, &engineer(), "try"),
        Err(StoreError::InvalidRecipe(_))
    ));
    assert_eq!(repo.versions("SOT23-CU20").unwrap().len(), 1);
}

#[test]
fn release_rules_and_roles() {
    let (_dir, store) = store();
    let repo = store.recipes();
    repo.create(&Recipe::default_au(), &engineer(), "new")
        .unwrap();
    let name = "SOT23-AU25";

    assert!(matches!(
        repo.sendable(name, 1),
        Err(StoreError::NotReleased {
            state: RecipeState::Draft,
            ..
        })
    ));
    for role in [
        Role::Operator,
        Role::Technician,
        Role::Supervisor,
        Role::System,
    ] {
        assert!(
            matches!(
                repo.release(name, 1, &Actor::new("X", role), "please"),
                Err(StoreError::Forbidden(f)) if f.role == role
            ),
            "{role}"
        );
        assert!(matches!(
            repo.retire(name, 1, &Actor::new("X", role), "please"),
            Err(StoreError::Forbidden(_))
        ));
    }
    assert!(matches!(
        repo.release(name, 1, &engineer(), ""),
        Err(StoreError::ReasonRequired)
    ));
    repo.release(name, 1, &engineer(), "first article passed")
        .unwrap();
    let sent = repo.sendable(name, 1).unwrap();
    assert_eq!((sent.state, sent.version), (RecipeState::Released, 1));
    let info = &repo.versions(name).unwrap()[0];
    assert_eq!(
        info.released.as_ref().map(|(_, by)| by.as_str()),
        Some("E7")
    );
    assert!(matches!(
        repo.release(name, 1, &engineer(), "twice"),
        Err(StoreError::BadTransition {
            from: RecipeState::Released,
            to: RecipeState::Released,
            ..
        })
    ));

    repo.retire(name, 1, &engineer(), "superseded").unwrap();
    assert!(matches!(
        repo.sendable(name, 1),
        Err(StoreError::NotReleased {
            state: RecipeState::Retired,
            ..
        })
    ));
    assert!(matches!(
        repo.release(name, 1, &engineer(), "revive"),
        Err(StoreError::BadTransition {
            from: RecipeState::Retired,
            ..
        })
    ));
    assert!(matches!(
        repo.retire(name, 1, &engineer(), "again"),
        Err(StoreError::BadTransition { .. })
    ));

    // A draft can be abandoned; an unknown version is not found.
    let mut v2 = repo.get(name, 1).unwrap();
    v2.loop_height_um.0 = 240;
    assert!(matches!(
        repo.edit(1, &v2, &operator(), "lower loop"),
        Err(StoreError::Forbidden(_))
    ));
    repo.edit(1, &v2, &engineer(), "lower loop").unwrap();
    repo.retire(name, 2, &engineer(), "abandoned").unwrap();
    assert!(matches!(
        repo.release(name, 7, &engineer(), "?"),
        Err(StoreError::RecipeNotFound(_))
    ));

    let actions: Vec<String> = store
        .reader()
        .unwrap()
        .audit(0, 100)
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {} {}", e.action, e.object, e.user))
        .collect();
    assert_eq!(
        actions,
        [
            "create recipe:SOT23-AU25@1 E7",
            "release recipe:SOT23-AU25@1 E7",
            "retire recipe:SOT23-AU25@1 E7",
            "modify recipe:SOT23-AU25@2 E7",
            "retire recipe:SOT23-AU25@2 E7",
        ]
    );
    assert_eq!(
        AuditAction::from_name("release"),
        Some(AuditAction::Release)
    );
    assert_eq!(Store::verify_audit(store.path()).unwrap().rows, 5);
}

#[test]
fn import_makes_a_new_draft_and_export_round_trips() {
    let (_dir, store) = store();
    let repo = store.recipes();
    // A released version 7 from the MES: stored as draft version 1 of a new name.
    let doc = Recipe::default_au().to_json();
    let v1 = repo
        .import_json(
            &doc,
            &Actor::new("gateway", Role::System),
            "cmd/recipe mes-1",
        )
        .unwrap();
    assert_eq!((v1.version, v1.state), (1, RecipeState::Draft));

    let mut newer = Recipe::default_au();
    newer.version = 8;
    newer.stitch.force_gf.0 = 95.0;
    let v2 = repo
        .import_json(
            &newer.to_json(),
            &Actor::new("gateway", Role::System),
            "cmd/recipe mes-2",
        )
        .unwrap();
    assert_eq!(
        (v2.version, v2.state, v2.base_version),
        (2, RecipeState::Draft, Some(1))
    );
    assert_eq!(
        repo.changes("SOT23-AU25", 2).unwrap(),
        vec![change("stitch.force_gf", "90", "95")]
    );

    let exported = repo.export_json("SOT23-AU25", 2).unwrap();
    let back = Recipe::from_json(&exported).unwrap();
    assert_eq!(back, repo.get("SOT23-AU25", 2).unwrap());
    assert_eq!((back.version, back.state), (2, RecipeState::Draft));
    // Re-importing the export is one more version.
    assert_eq!(
        repo.import_json(&exported, &engineer(), "round trip")
            .unwrap()
            .version,
        3
    );
}

#[test]
fn malformed_or_out_of_range_imports_are_refused_and_change_nothing() {
    let (_dir, store) = store();
    let repo = store.recipes();
    repo.create(&Recipe::default_cu(), &engineer(), "baseline")
        .unwrap();
    let before = (dump(store.path()), file_bytes(&store));

    let malformed = r#"{"v": 1, "name": "SOT23-CU20", "version": 4, "device": "#;
    match repo.import_json(malformed, &engineer(), "import") {
        Err(StoreError::InvalidRecipe(RecipeError::Json(_))) => {}
        other => panic!("{other:?}"),
    }
    let missing_field = r#"{"v": 1, "name": "X"}"#;
    assert!(matches!(
        repo.import_json(missing_field, &engineer(), "import"),
        Err(StoreError::InvalidRecipe(RecipeError::Json(_)))
    ));

    let mut out_of_range = Recipe::default_cu();
    out_of_range.version = 4;
    out_of_range.forming_gas_l_min.0 = 12.5;
    out_of_range.ball.force_gf.0 = 500.0;
    out_of_range.capillary_life_touchdowns = 0;
    let err = repo
        .import_json(&out_of_range.to_json(), &engineer(), "import")
        .unwrap_err();
    let StoreError::InvalidRecipe(RecipeError::Invalid(v)) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(v.0.len(), 3, "every problem listed: {err}");
    let text = err.to_string();
    assert!(
        text.contains("forming_gas_l_min 12.5 is outside 0..10"),
        "{text}"
    );
    assert!(
        text.contains("ball.force_gf 500 is outside 5..150"),
        "{text}"
    );

    assert_eq!(
        (dump(store.path()), file_bytes(&store)),
        before,
        "store unchanged"
    );
    assert_eq!(repo.versions("SOT23-CU20").unwrap().len(), 1);
}

/// The vision setup per recipe: the newest teach counts, it survives reopening the file,
/// every teach is audited with the JSON's hash, and an operator may not teach.
#[test]
fn vision_setups_are_kept_per_recipe_name_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("station.db");
    let tech = Actor::new("T7", Role::Technician);
    {
        let store = Store::open(&path).unwrap();
        let repo = store.recipes();
        assert_eq!(repo.vision("SOT23-AU25").unwrap(), None);
        repo.save_vision("SOT23-AU25", 1, r#"{"a":1}"#, "first teach", &tech)
            .unwrap();
        repo.save_vision("SOT23-AU25", 2, r#"{"a":2}"#, "re-taught", &tech)
            .unwrap();
        repo.save_vision("QFN-CU20", 1, r#"{"b":1}"#, "other", &engineer())
            .unwrap();
        let refused = repo.save_vision("SOT23-AU25", 2, "{}", "no", &operator());
        assert!(
            matches!(refused, Err(StoreError::Forbidden(_))),
            "{refused:?}"
        );
    }
    let store = Store::open(&path).unwrap();
    let repo = store.recipes();
    let v = repo.vision("SOT23-AU25").unwrap().unwrap();
    assert_eq!(v.setup_json, r#"{"a":2}"#);
    assert_eq!((v.recipe_version, v.taught_by.as_str()), (2, "T7"));
    assert_eq!(
        repo.vision("QFN-CU20").unwrap().unwrap().setup_json,
        r#"{"b":1}"#
    );
    let audit = store.reader().unwrap().audit(0, 100).unwrap();
    let teach: Vec<_> = audit
        .iter()
        .filter(|a| a.object == "recipe-vision:SOT23-AU25")
        .collect();
    assert_eq!(teach.len(), 2);
    assert_eq!(teach[0].old_value, None);
    assert_eq!(teach[1].old_value, teach[0].new_value);
    assert_eq!(teach[1].reason.as_deref(), Some("re-taught"));
    assert!(
        teach[1]
            .new_value
            .as_deref()
            .unwrap()
            .starts_with("sha256:"),
        "{:?}",
        teach[1]
    );
    assert_eq!(Store::verify_audit(&path).unwrap().rows, 3);
}
