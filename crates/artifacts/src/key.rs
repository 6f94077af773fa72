//! Canonical parameters and cache keys.
//!
//! A stage run is a pure function of (stage name, stage version, parameters, input artifacts).
//! Its key is the SHA-256 of the canonical JSON of those four things, so equal runs share a key
//! and any change to any of them gives a new one. Canonical JSON has object keys sorted at every
//! level and no whitespace; numbers print as serde_json prints them (shortest round-trip form),
//! so `0.8` written as `0.80` in a config still gives the same key.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt;

/// Number of hex digits of the SHA-256 kept in a key (64 bits: collisions are not a concern for
/// the at most millions of runs one artifact root holds).
pub const KEY_HEX_LEN: usize = 16;

/// The content-addressed key of one stage run: 16 lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ArtifactKey(String);

impl ArtifactKey {
    /// Computes the key of a run from its stage, stage version, parameters and input keys.
    ///
    /// The order of `inputs` is part of the key: stages list their inputs in a fixed order.
    pub fn compute(stage: &str, version: u32, params: &Value, inputs: &[ArtifactKey]) -> Self {
        let identity = serde_json::json!({
            "stage": stage,
            "version": version,
            "params": params,
            "inputs": inputs,
        });
        let hex = sha256_hex(canonical_json(&identity).as_bytes());
        ArtifactKey(hex[..KEY_HEX_LEN].to_string())
    }

    /// Parses a key written by [`ArtifactKey::compute`] (a directory name, a manifest field).
    pub fn parse(s: &str) -> Option<Self> {
        let ok =
            s.len() == KEY_HEX_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| ArtifactKey(s.to_string()))
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ArtifactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Serialises `value` to canonical JSON: object keys sorted at every level, no whitespace.
///
/// This does not rely on serde_json's map ordering (which a `preserve_order` feature enabled by
/// any crate in the build would change): keys are sorted here explicitly.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Converts typed parameters to the JSON value that keys and manifests are built from.
pub fn params_value<P: Serialize>(params: &P) -> Value {
    serde_json::to_value(params).expect("stage parameters serialise to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(params: Value) -> ArtifactKey {
        ArtifactKey::compute("masks", 1, &params, &[])
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a = json!({"b": 1, "a": {"y": [1, {"q": 2, "p": 1}], "x": 0.5}});
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"x":0.5,"y":[1,{"p":1,"q":2}]},"b":1}"#
        );
    }

    #[test]
    fn key_is_stable_across_releases() {
        // Pinned: a change here silently invalidates every cached artifact of every user, so
        // it must be a deliberate decision (bump the stage versions instead).
        let k = key(json!({"method": "snip", "width": 500, "sparsity": 0.8, "seed": 0}));
        assert_eq!(k.as_str().len(), KEY_HEX_LEN);
        assert_eq!(
            k,
            key(json!({"seed": 0, "sparsity": 0.8, "width": 500, "method": "snip"}))
        );
        let identity = r#"{"inputs":[],"params":{"method":"snip","seed":0,"sparsity":0.8,"width":500},"stage":"masks","version":1}"#;
        // Independent of `sha256_hex`: the digest's bytes formatted here.
        let digest = Sha256::digest(identity.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(k.as_str(), &hex[..KEY_HEX_LEN]);
    }

    #[test]
    fn any_change_gives_a_new_key() {
        let base = json!({"method": "snip", "width": 500, "sparsity": 0.8, "seed": 0});
        let k0 = key(base.clone());
        let variants = [
            json!({"method": "grasp", "width": 500, "sparsity": 0.8, "seed": 0}),
            json!({"method": "snip", "width": 501, "sparsity": 0.8, "seed": 0}),
            json!({"method": "snip", "width": 500, "sparsity": 0.81, "seed": 0}),
            json!({"method": "snip", "width": 500, "sparsity": 0.8, "seed": 1}),
            json!({"method": "snip", "width": 500, "sparsity": 0.8}),
            json!({"method": "snip", "width": 500, "sparsity": 0.8, "seed": 0, "extra": null}),
        ];
        for v in variants {
            assert_ne!(k0, key(v.clone()), "{v}");
        }
        assert_ne!(k0, ArtifactKey::compute("graphons", 1, &base, &[]));
        assert_ne!(k0, ArtifactKey::compute("masks", 2, &base, &[]));
        let input = ArtifactKey::compute("data", 1, &json!({}), &[]);
        let with_input = ArtifactKey::compute("masks", 1, &base, std::slice::from_ref(&input));
        assert_ne!(k0, with_input);
        let other_input = ArtifactKey::compute("data", 1, &json!({"seed": 1}), &[]);
        assert_ne!(
            with_input,
            ArtifactKey::compute("masks", 1, &base, &[other_input])
        );
    }

    #[test]
    fn equal_floats_written_differently_give_one_key() {
        let a: Value = serde_json::from_str(r#"{"sparsity": 0.80}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"sparsity": 8e-1}"#).unwrap();
        assert_eq!(key(a), key(b));
    }

    #[test]
    fn parse_accepts_only_keys() {
        let k = key(json!({}));
        assert_eq!(ArtifactKey::parse(k.as_str()), Some(k));
        assert_eq!(ArtifactKey::parse(".tmp-abc"), None);
        assert_eq!(ArtifactKey::parse("0123456789ABCDEF"), None);
    }

    /// Golden value: the key of the smoke pipeline's histograms job (`k = 8`) of its SNIP mask
    /// at n = 16, seed 0 (masks key `2186fb84c6ee41c0`), as `glh run pipelines/smoke.toml`
    /// published it (`glh ls --stage graphons`). A change to the canonical JSON or the hash
    /// changes every key, and so orphans every store: it must fail here first.
    #[test]
    fn golden_key_of_a_smoke_histograms_run() {
        let masks = ArtifactKey::parse("2186fb84c6ee41c0").unwrap();
        let key = ArtifactKey::compute("graphons", 1, &json!({ "k": 8 }), &[masks]);
        assert_eq!(key.as_str(), "8b61da531e3aed8e");
    }
}
