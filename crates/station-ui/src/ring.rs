//! The last judged bonds, kept for the strip and the curves page, and the envelope band
//! learned from the good ones.
//!
//! The runtime does not expose its judge's learned envelope yet, so the UI learns its own
//! band the same way (`EnvelopeLearner` over the first `learn_bonds` good bonds of each
//! kind) from the bonds it receives.

use crate::plot::{BandSummary, CurveSummary};
use bonder_core::bond::BondKind;
use bonder_core::envelope::EnvelopeLearner;
use bonder_core::recipe::Recipe;
use bonder_runtime::JudgedBond;
use std::cell::OnceCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

/// Bonds kept (the curves page can pick any of them).
pub const RING_CAPACITY: usize = 1000;

/// A kept bond and its curve pyramids (built when first drawn).
#[derive(Debug)]
pub struct Entry {
    pub bond: Arc<JudgedBond>,
    summary: OnceCell<Rc<CurveSummary>>,
}

impl Entry {
    /// The curve ready to draw.
    pub fn summary(&self) -> Rc<CurveSummary> {
        self.summary
            .get_or_init(|| Rc::new(CurveSummary::new(&self.bond.event.curve)))
            .clone()
    }
}

#[derive(Debug, Default)]
struct KindBand {
    learner: EnvelopeLearner,
    /// The band at the learner's current count.
    band: Option<(u32, Rc<BandSummary>)>,
}

/// The ring of the last [`RING_CAPACITY`] bonds, oldest first.
#[derive(Debug)]
pub struct BondRing {
    entries: VecDeque<Entry>,
    learn_bonds: u32,
    k_sigma: f32,
    bands: [KindBand; 2],
}

fn kind_index(k: BondKind) -> usize {
    match k {
        BondKind::Ball => 0,
        BondKind::Stitch => 1,
    }
}

impl BondRing {
    /// An empty ring learning its band as `recipe` says.
    pub fn new(recipe: &Recipe) -> BondRing {
        BondRing {
            entries: VecDeque::with_capacity(RING_CAPACITY),
            learn_bonds: recipe.envelope.learn_bonds.max(1),
            k_sigma: recipe.envelope.k_sigma as f32,
            bands: Default::default(),
        }
    }

    /// Adds a bond (dropping the oldest beyond capacity); good bonds teach the band until
    /// `learn_bonds` are learned.
    pub fn push(&mut self, bond: Arc<JudgedBond>) {
        if bond.judgement.verdict.is_ok() {
            let b = &mut self.bands[kind_index(bond.event.kind)];
            if b.learner.count() < self.learn_bonds {
                b.learner.add(&bond.event.curve);
            }
        }
        if self.entries.len() == RING_CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(Entry {
            bond,
            summary: OnceCell::new(),
        });
    }

    /// Number of kept bonds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no bond was kept yet.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The kept bond at a position (0 oldest).
    pub fn get(&self, pos: usize) -> Option<&Entry> {
        self.entries.get(pos)
    }

    /// Position of the bond with record number `seq`.
    pub fn position(&self, seq: u64) -> Option<usize> {
        // Record numbers grow by one per bond: look where it should be, then search.
        let first = self.entries.front()?.bond.seq;
        let guess = seq.checked_sub(first).map(|d| d as usize);
        if let Some(g) = guess.filter(|&g| self.entries.get(g).is_some_and(|e| e.bond.seq == seq)) {
            return Some(g);
        }
        self.entries.iter().position(|e| e.bond.seq == seq)
    }

    /// The last `n` bonds, oldest first.
    pub fn last(&self, n: usize) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .skip(self.entries.len().saturating_sub(n))
    }

    /// Up to `n` bonds of `kind` kept before position `pos`, newest first.
    pub fn previous_of_kind(&self, pos: usize, kind: BondKind, n: usize) -> Vec<&Entry> {
        self.entries
            .iter()
            .take(pos)
            .rev()
            .filter(|e| e.bond.event.kind == kind)
            .take(n)
            .collect()
    }

    /// The band of a kind and how many good bonds it comes from (`None` before the first).
    pub fn band(&mut self, kind: BondKind) -> Option<(u32, Rc<BandSummary>)> {
        let k_sigma = self.k_sigma;
        let b = &mut self.bands[kind_index(kind)];
        let count = b.learner.count();
        if count == 0 {
            return None;
        }
        if b.band.as_ref().is_none_or(|(n, _)| *n != count) {
            let env = b.learner.envelope(k_sigma)?;
            b.band = Some((count, Rc::new(BandSummary::new(&env))));
        }
        b.band.clone()
    }

    /// The band's half width in σ.
    pub fn k_sigma(&self) -> f32 {
        self.k_sigma
    }
}
