//! `replay.html`: a self-contained page that animates spread runs round by round.
//!
//! One panel per run (a batch shows its first run; a sweep shows push, pull and push-pull side
//! by side): the drawn nodes as dots in a grid, coloured once informed, the round's messages as
//! lines (a uniform sample; red when they carried the update), and the infection curve with
//! the current round marked. The page needs no network: script, style and data are inline, the
//! data as one JSON document. Memory is bounded whatever the cluster: at most
//! [`MAX_DRAWN_NODES`] nodes are drawn and [`MAX_EDGES_PER_ROUND`] edges kept per round.

use serde::Serialize;

use crate::record::RoundRecord;
use crate::report::theory;
use crate::scenario::spread::{RecordLimits, run_recorded};
use crate::scenario::{Params, RunError, ScenarioKind};

/// Most nodes drawn in a panel (the first slots; the curve still counts every node).
pub const MAX_DRAWN_NODES: usize = 2_000;

/// Most message edges kept per round and panel.
pub const MAX_EDGES_PER_ROUND: usize = 150;

const TEMPLATE: &str = include_str!("replay.html");

/// One animated run.
#[derive(Clone, Debug, Serialize)]
pub struct Panel {
    /// What the panel shows, e.g. `push-pull / anti-entropy / fanout 1`.
    pub label: String,
    /// Nodes in the cluster.
    pub nodes: usize,
    /// Fraction informed at the end of each round (round 0: the write).
    pub curve: Vec<f64>,
    /// Per drawn node: the round it got the update (`null`: never).
    pub informed_round: Vec<Option<u64>>,
    /// The writer's slot.
    pub writer: usize,
    /// Rounds until every node had it (`null`: not all did).
    pub rounds_to_all: Option<u64>,
    /// Textbook rounds to all, where one exists.
    pub theory: Option<f64>,
    /// Messages sent per round (all nodes).
    pub messages: Vec<u64>,
    /// Messages per round that carried the update's value.
    pub carriers: Vec<u64>,
    /// Per round, sampled edges between drawn nodes as `[from, to, carried]`.
    pub edges: Vec<Vec<[u32; 3]>>,
}

/// Everything a page shows.
#[derive(Clone, Debug, Serialize)]
pub struct Replay {
    /// Page title.
    pub title: String,
    /// Gossip interval in milliseconds.
    pub interval_ms: u64,
    /// Run seed of the panels.
    pub seed: u64,
    /// The panels, side by side.
    pub panels: Vec<Panel>,
}

/// Why no replay could be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// Only the spread scenario has an update to follow.
    #[error("a replay needs the spread scenario, not {0}")]
    Scenario(ScenarioKind),
    /// The run itself failed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The data could not be serialised.
    #[error("serialising the replay: {0}")]
    Json(#[from] serde_json::Error),
}

/// Runs run `run` of `params` (a spread) again, recorded, as one panel.
pub fn panel(params: &Params, run: usize, label: String) -> Result<Panel, ReplayError> {
    if params.scenario != ScenarioKind::Spread {
        return Err(ReplayError::Scenario(params.scenario));
    }
    let limits = RecordLimits { max_nodes: MAX_DRAWN_NODES, max_edges: MAX_EDGES_PER_ROUND };
    let (report, recording) = run_recorded(params, params.run_seed(run), Some(limits))?;
    let recording = recording.unwrap_or_else(|| crate::scenario::spread::Recording {
        rounds: Vec::new(),
        informed_round: Vec::new(),
        writer: 0,
    });
    let round = |r: &RoundRecord| r.edges.iter().map(|e| [e.from, e.to, u32::from(e.carried)]).collect();
    Ok(Panel {
        label,
        nodes: params.nodes,
        curve: report.informed,
        informed_round: recording.informed_round,
        writer: recording.writer,
        rounds_to_all: report.rounds_to_all,
        theory: theory(params.exchange, params.fanout, params.nodes).rounds_to_all,
        messages: recording.rounds.iter().map(|r| r.messages).collect(),
        carriers: recording.rounds.iter().map(|r| r.carriers).collect(),
        edges: recording.rounds.iter().map(round).collect(),
    })
}

/// The page: the template with the replay embedded as JSON.
pub fn html(replay: &Replay) -> Result<String, ReplayError> {
    // `<` escaped inside the JSON so no string can close the script element.
    let json = serde_json::to_string(replay)?.replace('<', "\\u003c");
    Ok(TEMPLATE.replace("__REPLAY_DATA__", &json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_data_cannot_close_its_script_element() {
        let replay = Replay { title: "</script><b>".into(), interval_ms: 100, seed: 1, panels: Vec::new() };
        let page = html(&replay).unwrap();
        assert!(!page.contains("</script><b>"));
        assert!(page.contains("\\u003c/script>\\u003cb>"));
    }
}
