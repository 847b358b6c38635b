//! The pictures of a trained network (what `ebm train`, `ebm relax` and the report show): the
//! first layer's receptive fields as a PNG image, and, as SVG charts (through `plot`), the
//! per-epoch energy, cost and weight change, a relaxation's free and nudged phases step by
//! step, and the hidden states at the free fixed point. Each returns its bytes or text; the
//! caller writes it.

use std::io::Cursor;

use anyhow::{Context, Result};
use ebm_core::experiments::trace::{PhaseTrace, RelaxTrace};
use image::{ImageFormat, Rgb, RgbImage};
use ndarray::Array2;
use trainer::run::EpochMetrics;

use crate::plot::{self, Chart, Panel, Series, Style};

/// Hidden units the receptive-field grid shows at most.
pub const FIELDS: usize = 100;

/// Pixels per input pixel in the receptive-field image.
const ZOOM: u32 = 3;

/// The receptive fields: the input weights `w0[:, j]` of the first `min(FIELDS, n_1)` hidden
/// units, each drawn as an `image_shape` (rows, cols) image, on a square-ish grid, in one
/// diverging colour map with one scale shared by all units (blue negative, white 0, red
/// positive, full colour at `max |w|` of the units shown). Returns the PNG and that scale.
pub fn receptive_fields_png(
    w0: &Array2<f32>,
    image_shape: (usize, usize),
) -> Result<(Vec<u8>, f64)> {
    let (rows, cols) = match image_shape {
        (r, c) if r * c == w0.nrows() => (r, c),
        // An input that is not an image of the recorded shape: one row per unit.
        _ => (1, w0.nrows()),
    };
    let units = w0.ncols().min(FIELDS);
    let grid = (units as f64).sqrt().ceil().max(1.0) as usize;
    let grid_rows = units.div_ceil(grid);
    let scale = w0
        .columns()
        .into_iter()
        .take(units)
        .flat_map(|c| c.iter().map(|v| f64::from(v.abs())).collect::<Vec<_>>())
        .fold(0.0f64, f64::max);
    let tile = |n: usize| (n as u32 + 1) * ZOOM;
    let (width, height) = (tile(cols) * grid as u32 + ZOOM, tile(rows) * grid_rows as u32 + ZOOM);
    let mut img = RgbImage::from_pixel(width, height, Rgb([128, 128, 128]));
    for j in 0..units {
        let (gy, gx) = (j / grid, j % grid);
        for (i, &w) in w0.column(j).iter().enumerate() {
            let colour = diverging(if scale > 0.0 { f64::from(w) / scale } else { 0.0 });
            let (py, px) = (i / cols, i % cols);
            let x0 = ZOOM + gx as u32 * tile(cols) + px as u32 * ZOOM;
            let y0 = ZOOM + gy as u32 * tile(rows) + py as u32 * ZOOM;
            for dy in 0..ZOOM {
                for dx in 0..ZOOM {
                    img.put_pixel(x0 + dx, y0 + dy, colour);
                }
            }
        }
    }
    let mut png = Cursor::new(Vec::new());
    img.write_to(&mut png, ImageFormat::Png).context("cannot encode the receptive fields")?;
    Ok((png.into_inner(), scale))
}

/// A diverging colour for `v` in [-1, 1]: blue (-1), white (0), red (+1).
fn diverging(v: f64) -> Rgb<u8> {
    let v = v.clamp(-1.0, 1.0);
    let (end, t) = if v < 0.0 { ([33.0, 102.0, 172.0], -v) } else { ([178.0, 24.0, 43.0], v) };
    let mix = |c: f64| (255.0 + t * (c - 255.0)).round() as u8;
    Rgb([mix(end[0]), mix(end[1]), mix(end[2])])
}

/// Per epoch: the mean energy and cost at the training minibatches' free fixed points, and
/// each weight layer's relative change over the epoch.
pub fn training_dynamics_svg(history: &[EpochMetrics]) -> Result<String> {
    let per_epoch = |f: &dyn Fn(&EpochMetrics) -> f64| -> Vec<(f64, f64)> {
        history.iter().map(|m| (m.epoch as f64, f(m))).collect()
    };
    let depth = history.first().map_or(0, |m| m.relative_weight_change.len());
    let changes = (0..depth)
        .map(|k| {
            Series::line(
                format!("W{k} (layer {k} to {})", k + 1),
                per_epoch(&|m| m.relative_weight_change.get(k).copied().unwrap_or(f64::NAN)),
            )
        })
        .collect();
    let panels = [
        Panel {
            chart: Chart {
                title: "mean energy E at the free fixed points",
                x_label: "epoch",
                y_label: "E",
                ..Chart::default()
            },
            series: vec![Series::line("E (Eq 2.7)", per_epoch(&|m| m.mean_energy))],
        },
        Panel {
            chart: Chart {
                title: "mean cost C at the free fixed points",
                x_label: "epoch",
                y_label: "C",
                log_y: true,
                ..Chart::default()
            },
            series: vec![Series::line("C (Eq 3.3)", per_epoch(&|m| m.mean_cost))],
        },
        Panel {
            chart: Chart {
                title: "weight change over the epoch",
                x_label: "epoch",
                y_label: "|W(end) - W(start)| / |W(start)|",
                log_y: true,
                ..Chart::default()
            },
            series: changes,
        },
    ];
    plot::panels_text(
        (1500, 480),
        (1, 3),
        "Training dynamics per epoch (training minibatches)",
        &panels,
    )
}

/// A relaxation, step by step: for the free phase (top) and the nudged phase (bottom), the
/// mean energy, the mean cost, each layer's mean activity, and the output units of the first
/// example (its target unit named).
pub fn relaxation_svg(trace: &RelaxTrace, labels: &[u8]) -> Result<String> {
    let examples = trace.free.outputs.len();
    let label = labels.first().map(|&l| usize::from(l));
    let titles = [
        format!("free phase (beta = 0, from zero states, {examples} examples)"),
        format!("nudged phase (beta = {}, from the free fixed point)", trace.beta),
    ];
    let mut panels = Vec::new();
    let energy_titles: Vec<String> = titles.iter().map(|t| format!("mean energy E: {t}")).collect();
    let cost_titles: Vec<String> = ["free phase", "nudged phase"]
        .iter()
        .map(|t| format!("mean cost C (Eq 3.3): {t}"))
        .collect();
    let output_title = format!(
        "output units of example 1 (label {})",
        label.map_or("?".to_owned(), |l| l.to_string())
    );
    for (p, phase) in [&trace.free, &trace.nudged].into_iter().enumerate() {
        panels.push(Panel {
            chart: Chart {
                title: &energy_titles[p],
                x_label: "step",
                y_label: "E",
                ..Chart::default()
            },
            series: vec![Series::line("E", steps(&phase.energy))],
        });
        panels.push(Panel {
            chart: Chart {
                title: &cost_titles[p],
                x_label: "step",
                y_label: "C",
                log_y: true,
                ..Chart::default()
            },
            series: vec![Series::line("C", steps(&phase.cost))],
        });
        panels.push(Panel {
            chart: Chart {
                title: "mean activity rho(s) per layer",
                x_label: "step",
                y_label: "mean rho(s)",
                ..Chart::default()
            },
            series: activity(phase),
        });
        panels.push(Panel {
            chart: Chart {
                title: &output_title,
                x_label: "step",
                y_label: "s (output)",
                ..Chart::default()
            },
            series: outputs(phase, label),
        });
    }
    plot::panels_text(
        (1800, 900),
        (2, 4),
        "Relaxation of test examples: free phase (top row), nudged phase (bottom row)",
        &panels,
    )
}

fn steps(values: &[f64]) -> Vec<(f64, f64)> {
    values.iter().enumerate().map(|(t, &v)| (t as f64, v)).collect()
}

fn activity(phase: &PhaseTrace) -> Vec<Series> {
    let last = phase.activity.len();
    phase
        .activity
        .iter()
        .enumerate()
        .map(|(k, a)| {
            let name =
                if k + 1 == last { "output".to_owned() } else { format!("hidden {}", k + 1) };
            line(name, steps(a))
        })
        .collect()
}

fn outputs(phase: &PhaseTrace, label: Option<usize>) -> Vec<Series> {
    let Some(first) = phase.outputs.first() else { return Vec::new() };
    let mut series: Vec<Series> = first
        .iter()
        .enumerate()
        .filter(|(u, _)| Some(*u) != label)
        .enumerate()
        .map(|(i, (_, y))| {
            line(if i == 0 { "other units".into() } else { String::new() }, steps(y))
        })
        .collect();
    // The target's unit last, so it is drawn on top (and in a colour of its own).
    if let Some(l) = label.filter(|&l| l < first.len()) {
        series.push(line(format!("unit {l} (the label)"), steps(&first[l])));
    }
    series
}

fn line(name: String, points: Vec<(f64, f64)>) -> Series {
    Series { style: Style::Line, ..Series::line(name, points) }
}

/// Bins of the hidden-state histograms.
const BINS: usize = 25;

/// The hidden states at the free fixed point: one histogram per hidden layer (the share of
/// units per bin), titled with the saturated fraction (`rho'(s) = 0`).
pub fn hidden_states_svg(trace: &RelaxTrace) -> Result<String> {
    let titles: Vec<String> = trace
        .saturated
        .iter()
        .enumerate()
        .map(|(k, sat)| {
            format!("hidden layer {}: {:.1}% saturated (rho'(s) = 0)", k + 1, 100.0 * sat)
        })
        .collect();
    let panels: Vec<Panel<'_>> = trace
        .free_hidden
        .iter()
        .zip(&titles)
        .map(|(states, title)| Panel {
            chart: Chart {
                title,
                x_label: "state s at the free fixed point",
                y_label: "share of units",
                ..Chart::default()
            },
            series: vec![Series { style: Style::Bars, ..Series::line("", histogram(states)) }],
        })
        .collect();
    let n = panels.len().max(1);
    plot::panels_text(
        (560 * n as u32, 460),
        (1, n),
        &format!(
            "Hidden states at the free fixed point ({} test examples)",
            trace.predictions.len()
        ),
        &panels,
    )
}

/// `(bin centre, share of values)` over `BINS` equal bins spanning the values.
fn histogram(values: &[f64]) -> Vec<(f64, f64)> {
    let (lo, hi) =
        values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
    if !lo.is_finite() {
        return Vec::new();
    }
    let width = if hi > lo { (hi - lo) / BINS as f64 } else { 1.0 };
    let mut counts = [0usize; BINS];
    for &v in values {
        let b = (((v - lo) / width) as usize).min(BINS - 1);
        counts[b] += 1;
    }
    let n = values.len() as f64;
    counts.iter().enumerate().map(|(b, &c)| (lo + (b as f64 + 0.5) * width, c as f64 / n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receptive_fields_are_one_tile_per_unit_in_one_shared_scale() {
        // 4 units of a 2x3 input: unit j's weights are all j - 1.5 (scale 1.5).
        let w0 = Array2::from_shape_fn((6, 4), |(_, j)| j as f32 - 1.5);
        let (png, scale) = receptive_fields_png(&w0, (2, 3)).unwrap();
        assert_eq!(scale, 1.5);
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        // A 2x2 grid of (3+1)x(2+1) tiles of ZOOM pixels, and a border.
        assert_eq!(img.dimensions(), (2 * 4 * ZOOM + ZOOM, 2 * 3 * ZOOM + ZOOM));
        let at = |gx: u32, gy: u32| *img.get_pixel(ZOOM + gx * 4 * ZOOM, ZOOM + gy * 3 * ZOOM);
        // The most negative unit is full blue, the most positive full red.
        assert_eq!(at(0, 0), Rgb([33, 102, 172]));
        assert_eq!(at(1, 1), Rgb([178, 24, 43]));
        // Unit 1 (-0.5) is a paler blue.
        assert!(at(1, 0)[0] > 33 && at(1, 0)[2] > at(1, 0)[0]);
    }

    #[test]
    fn histogram_shares_sum_to_one_and_span_the_values() {
        let h = histogram(&[0.0, 0.0, 0.5, 1.0]);
        assert_eq!(h.len(), BINS);
        assert!((h.iter().map(|p| p.1).sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(h[0].1, 0.5);
        assert_eq!(h[BINS - 1].1, 0.25);
        assert!(histogram(&[]).is_empty());
    }
}
