//! Signed-command verification on one core: the whole envelope check a station runs per
//! command (`signed::verify`: JSON, base64url, Ed25519 `verify_strict`, claims) beside the
//! bare signature check, and signing as the supervisor does it.
//!
//! `cargo bench -p bonder-gateway --bench verify`; commands/s = 1 / time per iteration.

use bonder_core::permissions::Role;
use bonder_gateway::signed::{self, TrustStore};
use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::{Signature, Signer, SigningKey};
use serde_json::json;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[9; 32]);
    let mut trust = TrustStore::default();
    trust.insert("sv", key.verifying_key());
    let now = 1_800_000_000;
    let cmd = json!({"request_id": "w-1", "work_order": "WO-1", "device": "SOT23-3L",
                     "recipe": "SOT23-CU20@3", "quantity": 5000});
    let claims = signed::with_claims(cmd.clone(), "T3", Role::Technician, now, 120);
    let jws = signed::sign(&key, "sv", &claims);
    let recipe: serde_json::Value =
        serde_json::from_str(&bonder_core::recipe::Recipe::default_cu().to_json())
            .unwrap_or_default();
    let recipe_jws = signed::sign(
        &key,
        "sv",
        &signed::with_claims(
            json!({"request_id": "r-1", "recipe": recipe}),
            "E7",
            Role::Engineer,
            now,
            120,
        ),
    );
    println!(
        "work order JWS {} bytes, recipe JWS {} bytes",
        jws.len(),
        recipe_jws.len()
    );
    let mut g = c.benchmark_group("signed_command");
    g.bench_function("verify_work_order", |b| {
        b.iter(|| signed::verify(&trust, false, black_box(jws.as_bytes()), now))
    });
    g.bench_function("verify_recipe", |b| {
        b.iter(|| signed::verify(&trust, false, black_box(recipe_jws.as_bytes()), now))
    });
    let msg = b"header.payload";
    let sig: Signature = key.sign(msg);
    let vk = key.verifying_key();
    g.bench_function("ed25519_verify_strict_only", |b| {
        b.iter(|| vk.verify_strict(black_box(msg), black_box(&sig)))
    });
    g.bench_function("sign_work_order", |b| {
        b.iter(|| signed::sign(&key, "sv", black_box(&claims)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
