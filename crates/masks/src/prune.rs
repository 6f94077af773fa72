//! The one pruning loop, for single-shot and iterative methods.
//!
//! Round e of E keeps `round(d^(e/E) * total)` weights (the last round exactly
//! `round(d * total)`), choosing among those the previous round kept, so the masks of
//! successive rounds nest. A single-shot method is the case E = 1.

use crate::scorers::{Scorer, ScoringData};
use crate::select::select_mask;
use glh_artifacts::config::Scope;
use glh_model::{Mask, Mlp};

/// Prunes `net` to `density` with `scorer`; `on_round(e, rounds, mask)` sees every round's
/// mask. Fails if a layer loses all its weights and `allow_empty_layers` is false.
#[allow(clippy::too_many_arguments)]
pub fn prune(
    scorer: &dyn Scorer,
    net: &Mlp,
    data: Option<&ScoringData>,
    density: f64,
    scope: Scope,
    tie_seed: u64,
    allow_empty_layers: bool,
    on_round: &mut dyn FnMut(usize, usize, &Mask),
) -> Result<Mask, String> {
    let rounds = scorer.rounds();
    let mut mask = Mask::full(&net.arch);
    for e in 1..=rounds {
        let target = if e == rounds {
            density
        } else {
            density.powf(e as f64 / rounds as f64)
        };
        let scores = scorer.score(net, &mask, data);
        mask = select_mask(&scores, &mask, target, scope, tie_seed)?;
        on_round(e, rounds, &mask);
    }
    if !allow_empty_layers && let Some(l) = mask.layers().iter().position(|m| m.kept() == 0) {
        return Err(format!(
            "layer {} lost every weight (set masks.allow_empty_layers = true to accept this)",
            l + 1
        ));
    }
    Ok(mask)
}
