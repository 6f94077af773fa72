//! The one pruning loop, for single-shot and iterative methods.
//!
//! Round e of E keeps `round(d^(e/E) * total)` weights (the last round exactly
//! `round(d * total)`), choosing among those the previous round kept, so the masks of
//! successive rounds nest. A single-shot method is the case E = 1.

use crate::methods::Pruning;
use crate::scorers::{Scorer, ScoringData};
use crate::select::select_mask;
use glh_model::{Mask, Mlp};

/// Prunes `net` with `scorer` as `how` says (density, scope, ties, classifier);
/// `on_round(e, rounds, mask)` sees every round's mask. Fails if a layer loses all its weights
/// and `how.allow_empty_layers` is false.
pub fn prune(
    scorer: &dyn Scorer,
    net: &Mlp,
    data: Option<&ScoringData>,
    how: &Pruning,
    on_round: &mut dyn FnMut(usize, usize, &Mask),
) -> Result<Mask, String> {
    let density = how.density;
    let rounds = scorer.rounds();
    let mut mask = Mask::full(&net.arch);
    for e in 1..=rounds {
        let target = if e == rounds {
            density
        } else {
            density.powf(e as f64 / rounds as f64)
        };
        let scores = scorer.score_rows(net, &mask, data);
        let next = select_mask(
            scores.as_ref(),
            &mask,
            target,
            how.scope,
            how.classifier,
            how.tie_seed,
        )?;
        drop(scores); // it reads the round's mask
        mask = next;
        on_round(e, rounds, &mask);
    }
    if !how.allow_empty_layers
        && let Some(l) = mask.layers().iter().position(|m| m.kept() == 0)
    {
        return Err(format!(
            "layer {} lost every weight (set masks.allow_empty_layers = true to accept this)",
            l + 1
        ));
    }
    Ok(mask)
}
