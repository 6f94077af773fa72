//! Fuzzing the pipeline reader (issue #14): any text, and any edit of a real pipeline file,
//! is either a pipeline that plans or a one-line error naming the file — never a panic, and
//! never a plan too large to hold. Bounded so CI runs it; `PROPTEST_CASES=100000` runs longer.

use glh_pipeline::{Pipeline, plan};
use proptest::prelude::*;

const SMOKE: &str = include_str!("../../../pipelines/smoke.toml");

/// Values that break naive readers, as TOML literals.
fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("1e309".to_string()),
        Just("nan".to_string()),
        Just("4294967296".to_string()),
        Just("18446744073709551615".to_string()),
        Just("\"../../x\"".to_string()),
        Just("\"\"".to_string()),
        Just("[]".to_string()),
        Just("[100000000]".to_string()),
        Just("{}".to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| format!("{v:?}")),
        "[a-z0-9_./-]{0,12}".prop_map(|s| format!("\"{s}\"")),
    ]
}

/// `SMOKE` with the value of its `line`-th `key = value` line replaced by `value`.
fn with_value(line: usize, value: &str) -> String {
    let assignments: Vec<usize> = SMOKE
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(" = ") && !l.starts_with('#'))
        .map(|(i, _)| i)
        .collect();
    let target = assignments[line % assignments.len()];
    SMOKE
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == target {
                let key = l.split(" = ").next().unwrap();
                format!("{key} = {value}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn check(text: &str) -> Result<(), TestCaseError> {
    match Pipeline::from_toml(text, "fuzz.toml") {
        Ok(pipeline) => {
            // Planning is bounded by the sweep's size check; it must not panic either.
            let planned = plan(&pipeline);
            if let Err(e) = planned {
                prop_assert!(!e.to_string().contains('\n'), "{}", e);
            }
        }
        Err(e) => {
            let message = e.to_string();
            prop_assert!(message.starts_with("fuzz.toml"), "{}", message);
            prop_assert!(!message.contains('\n'), "{}", message);
        }
    }
    Ok(())
}

/// 300 cases (a bounded run for CI), or `PROPTEST_CASES` of them.
fn bounded() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(bounded())]

    #[test]
    fn an_edited_value_parses_or_is_one_line(line in 0usize..64, value in literal()) {
        check(&with_value(line, &value))?;
    }

    #[test]
    fn damaged_text_parses_or_is_one_line(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<char>()), 1..6),
    ) {
        let mut text: Vec<char> = SMOKE.chars().collect();
        for (at, c) in edits {
            let i = at.index(text.len());
            text[i] = c;
        }
        check(&text.into_iter().collect::<String>())?;
    }

    #[test]
    fn any_text_parses_or_is_one_line(text in "\\PC{0,200}") {
        check(&text)?;
    }
}
