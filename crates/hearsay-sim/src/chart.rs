//! SVG charts of reports (plotters): infection curves, for sweeps rounds against N, and the
//! staleness of replicas with and without flow control.
//!
//! This module only draws; it reads reports and writes files, and every failure comes back as
//! a [`ChartError`] naming the file.

use std::path::Path;

use hearsay_core::{ExchangeMode, Strategy};
use plotters::prelude::*;
use thiserror::Error;

use crate::flow::FlowComparison;
use crate::report::{Report, theory};
use crate::sweep::SweepReport;

/// A chart could not be drawn or written.
#[derive(Debug, Error)]
#[error("cannot draw {path}: {reason}")]
pub struct ChartError {
    /// The file.
    pub path: String,
    /// What went wrong.
    pub reason: String,
}

fn err(path: &Path, e: impl std::fmt::Display) -> ChartError {
    ChartError { path: path.display().to_string(), reason: e.to_string() }
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// The infection curve of every run: informed fraction (spread; nodes knowing everyone for
/// join; agreeing replicas for the fault scenarios) at the end of each round.
pub fn infection_curves(path: &Path, report: &Report) -> Result<(), ChartError> {
    let rounds = report.run_reports.iter().map(|r| r.informed.len()).max().unwrap_or(1).max(2) - 1;
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let caption = format!(
        "{}: {} nodes, {}/{}, fanout {}, {} runs",
        report.scenario, report.nodes, report.exchange, report.strategy, report.fanout, report.runs
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0u32..rounds as u32, 0f64..1.0)
        .map_err(|e| err(path, e))?;
    chart
        .configure_mesh()
        .x_desc("round (gossip intervals since the write, rounded up)")
        .y_desc("fraction informed")
        .draw()
        .map_err(|e| err(path, e))?;
    for (i, run) in report.run_reports.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()].mix(0.6);
        chart
            .draw_series(LineSeries::new(run.informed.iter().enumerate().map(|(r, f)| (r as u32, *f)), color))
            .map_err(|e| err(path, e))?;
    }
    root.present().map_err(|e| err(path, e))
}

/// Rounds to all against N (log axis) for one strategy: one line per exchange mode and fanout,
/// and the textbook line (fanout 1) of each exchange mode, dashed.
pub fn sweep_rounds(path: &Path, sweep: &SweepReport, strategy: Strategy) -> Result<(), ChartError> {
    let strategy_label = strategy.as_str();
    let rows: Vec<&Report> = sweep.rows.iter().filter(|r| r.strategy == strategy_label).collect();
    let max_n = rows.iter().map(|r| r.nodes).max().unwrap_or(1000).max(10) as f64;
    let min_n = rows.iter().map(|r| r.nodes).min().unwrap_or(100).max(2) as f64;
    let max_rounds = rows.iter().filter_map(|r| r.rounds_to_all.mean).fold(10.0, f64::max) * 1.1;
    let root = SVGBackend::new(path, (800, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("spread, {strategy_label}: mean rounds to all vs N"), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((min_n * 0.8..max_n * 1.25).log_scale(), 0f64..max_rounds)
        .map_err(|e| err(path, e))?;
    chart
        .configure_mesh()
        .x_desc("nodes (log scale)")
        .y_desc("rounds until every node has the update")
        .draw()
        .map_err(|e| err(path, e))?;
    let exchanges = [ExchangeMode::Push, ExchangeMode::Pull, ExchangeMode::PushPull];
    for (e, exchange) in exchanges.iter().enumerate() {
        for fanout in [1usize, 3] {
            let mut points: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| r.exchange == exchange.as_str() && r.fanout == fanout)
                .filter_map(|r| r.rounds_to_all.mean.map(|m| (r.nodes as f64, m)))
                .collect();
            if points.is_empty() {
                continue;
            }
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let color = PALETTE[(e * 2 + fanout / 3) % PALETTE.len()];
            let label = format!("{} fanout {fanout}", exchange.as_str());
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(|e| err(path, e))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            chart.draw_series(points.iter().map(|p| Circle::new(*p, 3, color.filled()))).map_err(|e| err(path, e))?;
        }
        // Textbook line: dashed, sampled along N.
        let color = PALETTE[(e * 2) % PALETTE.len()];
        let samples: Vec<(f64, f64)> = (0..=40)
            .map(|i| min_n * 0.8 * ((max_n * 1.25) / (min_n * 0.8)).powf(f64::from(i) / 40.0))
            .filter_map(|n| theory(*exchange, 1, n as usize).rounds_to_all.map(|t| (n, t)))
            .collect();
        let dashes: Vec<Vec<(f64, f64)>> = samples.chunks(2).filter(|c| c.len() == 2).map(<[_]>::to_vec).collect();
        let formula = theory(*exchange, 1, 1000).formula;
        let mut first = true;
        for dash in dashes {
            let series = chart.draw_series(LineSeries::new(dash, color.mix(0.7))).map_err(|e| err(path, e))?;
            if first {
                series
                    .label(format!("theory {}: {formula}", exchange.as_str()))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 8, y)], color.mix(0.7)));
                first = false;
            }
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 11))
        .draw()
        .map_err(|e| err(path, e))?;
    root.present().map_err(|e| err(path, e))
}

/// Staleness over time with and without flow control (see [`crate::flow`]): versions behind,
/// largest (solid) and mean (thin) over (replica, writer) pairs, and the round the MTU changed.
pub fn flow_staleness(path: &Path, c: &FlowComparison) -> Result<(), ChartError> {
    let rounds = c.with.samples.len().max(c.without.samples.len()).max(2) as u64;
    let top = [&c.with, &c.without]
        .iter()
        .flat_map(|run| run.samples.iter().map(|s| s.max_versions_behind))
        .max()
        .unwrap_or(1)
        .max(10) as f64
        * 1.1;
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let caption = format!(
        "flow control: {} nodes, {} writers x {} writes/round, MTU {} -> {} at round {}",
        c.nodes, c.writers, c.writes_per_round, c.mtu_before, c.mtu_after, c.mtu_change_round
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0u64..rounds, 0f64..top)
        .map_err(|e| err(path, e))?;
    chart
        .configure_mesh()
        .x_desc("round since the writers started")
        .y_desc("versions behind the writer")
        .draw()
        .map_err(|e| err(path, e))?;
    let change = c.mtu_change_round;
    let grey = RGBColor(120, 120, 120);
    chart
        .draw_series(LineSeries::new(vec![(change, 0.0), (change, top)], grey.stroke_width(1)))
        .map_err(|e| err(path, e))?
        .label(format!("MTU lowered to {}", c.mtu_after))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey));
    for (run, color) in [(&c.without, PALETTE[3]), (&c.with, PALETTE[0])] {
        let on = if run.flow_control { "with flow control" } else { "without flow control" };
        chart
            .draw_series(LineSeries::new(
                run.samples.iter().map(|s| (s.round, s.max_versions_behind as f64)),
                color.stroke_width(2),
            ))
            .map_err(|e| err(path, e))?
            .label(format!("{on}: max"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(
                run.samples.iter().map(|s| (s.round, s.mean_versions_behind)),
                color.mix(0.6).stroke_width(1),
            ))
            .map_err(|e| err(path, e))?
            .label(format!("{on}: mean"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.mix(0.6)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(|e| err(path, e))?;
    root.present().map_err(|e| err(path, e))
}
