//! SVG plots (plotters): every figure the commands write goes through here.

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::output::OutDir;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Connected line.
    Line,
    /// Markers only.
    Points,
    /// Line with markers.
    LinePoints,
    /// Bars from zero, one per point, as wide as the points' spacing (histograms).
    Bars,
}

/// One named series of (x, y) points, with optional symmetric error bars.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
    /// Half-widths of error bars, one per point (empty = none).
    pub errors: Vec<f64>,
    /// A shaded band (lower, upper) around the line, one per point (empty = none).
    pub band: Vec<(f64, f64)>,
    /// Drawing style.
    pub style: Style,
}

impl Series {
    /// A line series.
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            errors: Vec::new(),
            band: Vec::new(),
            style: Style::LinePoints,
        }
    }
}

/// Axes and titles of a chart.
#[derive(Debug, Clone, Default)]
pub struct Chart<'a> {
    /// Title above the plot.
    pub title: &'a str,
    /// x-axis label.
    pub x_label: &'a str,
    /// y-axis label.
    pub y_label: &'a str,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
}

const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn range(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return if log { (0.1, 1.0) } else { (0.0, 1.0) };
    }
    if log {
        (lo / 1.5, hi * 1.5)
    } else {
        // A flat series gets a range around its value wide enough for distinct tick labels.
        let pad = if hi - lo > 1e-9 * hi.abs().max(1.0) {
            (hi - lo) * 0.05
        } else {
            (hi.abs() * 0.05).max(0.05)
        };
        (lo - pad, hi + pad)
    }
}

/// A tick label for an integer axis: the integer, or nothing between integers.
fn integer_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-9 { format!("{}", x.round() as i64) } else { String::new() }
}

/// Key points to ask of a log axis spanning the ratio `span` so that plotters places one at
/// every `m x 10^k`, `m = 1..9` (its density is `1 + (points - decades) / decades`, and 10 to
/// 99 gives nine per decade).
fn log_key_points(span: f64) -> usize {
    let decades = (span.log10().floor() as usize).max(1);
    // Beyond four decades only the powers of ten (one key point per decade, density 1).
    if span > 1e4 { decades } else { 20 * decades }
}

/// A log axis's tick labels over `[lo, hi]`: `1`, `2` and `5 x 10^k` (only `10^k` beyond
/// four decades), nothing at the other key points; scientific (`1e-5`) throughout when the
/// axis reaches below 0.001 or above 99,999, fixed (`0.02`) otherwise.
fn log_label(lo: f64, hi: f64) -> impl Fn(&f64) -> String {
    let mantissas: &[f64] = if hi / lo > 1e4 { &[1.0] } else { &[1.0, 2.0, 5.0] };
    let scientific = lo < 1e-3 || hi >= 1e5;
    move |v: &f64| {
        let m = *v / 10f64.powf(v.log10().floor());
        // 10 x 10^k comes back as the mantissa 10 (or 9.99...) through rounding.
        let m = if m > 9.5 { m / 10.0 } else { m };
        if !mantissas.iter().any(|&r| (m - r).abs() < 1e-6 * r) {
            String::new()
        } else if scientific {
            // (tick_label would call a value below 1e-12 zero, which no log tick is.)
            // The power below (5e-1 is 5 x 10^-1, not 0.5 x 10^0 rounded to 1), with
            // 9.99.. x 10^k brought back to 1 x 10^(k+1).
            let mut e = (v.log10() + 1e-9).floor() as i32;
            let mut m = (*v / 10f64.powi(e)).round();
            if m >= 10.0 {
                m /= 10.0;
                e += 1;
            }
            match (m == 1.0, e == 0) {
                (true, true) => "1".to_owned(),
                (true, false) => format!("1e{e}"),
                _ => format!("{m}e{e}"),
            }
        } else {
            tick_label(v)
        }
    }
}

/// The tick labels of a linear axis over `[lo, hi]`: one notation for the whole axis, fixed
/// (see [`tick_label`]) when its largest value is from 0.001 to 99,999, else scientific, so
/// that `80000` and `1.2e5` never share an axis.
fn axis_label(lo: f64, hi: f64) -> impl Fn(&f64) -> String {
    let top = lo.abs().max(hi.abs());
    let scientific = !(1e-3..1e5).contains(&top);
    // Enough decimals to tell ticks a tenth of the range apart (a narrow range far from 0).
    let decimals = (-((hi - lo).abs() / 10.0).log10()).ceil().clamp(0.0, 12.0) as usize;
    move |v: &f64| {
        if !scientific || v.abs() < 1e-12 * top {
            let label = tick_label(v);
            let shown: f64 = label.parse().unwrap_or(*v);
            if (shown - v).abs() <= (hi - lo).abs() / 100.0 {
                return label;
            }
            let t = format!("{v:.decimals$}");
            return if t.contains('.') {
                t.trim_end_matches('0').trim_end_matches('.').to_owned()
            } else {
                t
            };
        }
        let t = format!("{v:.1e}");
        match t.split_once('e') {
            Some((m, e)) => {
                let m =
                    if m.contains('.') { m.trim_end_matches('0').trim_end_matches('.') } else { m };
                format!("{m}e{e}")
            }
            None => t,
        }
    }
}

/// A tick label readable at any range: fixed notation with up to four significant digits from
/// 0.001 to 99,999 (trailing zeros dropped), else `1.5e-7`; never `-0` (nor rounding noise
/// such as `-2.8e-17` for a tick at zero).
fn tick_label(v: &f64) -> String {
    let v = *v;
    if v.abs() < 1e-12 || !v.is_finite() {
        return if v.is_finite() { "0".into() } else { v.to_string() };
    }
    let a = v.abs();
    let trim = |t: String| -> String {
        if t.contains('.') { t.trim_end_matches('0').trim_end_matches('.').to_owned() } else { t }
    };
    let text = if (1e-3..1e5).contains(&a) {
        let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
        trim(format!("{v:.decimals$}"))
    } else {
        let t = format!("{v:.1e}");
        match t.split_once('e') {
            Some((m, e)) => format!("{}e{e}", trim(m.to_owned())),
            None => t,
        }
    };
    if text.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
        "0".into()
    } else {
        text
    }
}

/// The width of a bar: the smallest spacing of the points' x values (1 for a single point).
fn bar_width(points: &[(f64, f64)]) -> f64 {
    let w = points.windows(2).map(|p| (p[1].0 - p[0].0).abs()).fold(f64::INFINITY, f64::min);
    if w.is_finite() && w > 0.0 { w } else { 1.0 }
}

/// Where the legend covers the fewest points: the corner (of four) whose box holds the fewest
/// of the series' points, in the chart's normalised coordinates.
fn legend_corner(
    series: &[Series],
    norm: impl Fn((f64, f64)) -> (f64, f64),
) -> SeriesLabelPosition {
    let named = series.iter().filter(|s| !s.name.is_empty()).count();
    let (w, h) = (0.42, 0.05 + 0.045 * named as f64);
    let corners = [
        (SeriesLabelPosition::UpperRight, (1.0 - w, 1.0), (1.0 - h, 1.0)),
        (SeriesLabelPosition::UpperLeft, (0.0, w), (1.0 - h, 1.0)),
        (SeriesLabelPosition::LowerRight, (1.0 - w, 1.0), (0.0, h)),
        (SeriesLabelPosition::LowerLeft, (0.0, w), (0.0, h)),
    ];
    let points: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| {
            s.points
                .iter()
                .copied()
                .chain(s.band.iter().zip(&s.points).flat_map(|(b, p)| [(p.0, b.0), (p.0, b.1)]))
        })
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .map(norm)
        .collect();
    let inside = |(xr, yr): ((f64, f64), (f64, f64))| {
        points.iter().filter(|p| p.0 >= xr.0 && p.0 <= xr.1 && p.1 >= yr.0 && p.1 <= yr.1).count()
    };
    let mut best = (usize::MAX, SeriesLabelPosition::UpperRight);
    for (pos, xr, yr) in corners {
        let n = inside((xr, yr));
        if n < best.0 {
            best = (n, pos);
        }
    }
    best.1
}

/// One chart of a figure: its axes and titles and its series.
#[derive(Debug, Clone)]
pub struct Panel<'a> {
    /// Axes and titles.
    pub chart: Chart<'a>,
    /// The series.
    pub series: Vec<Series>,
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// Draw `series` on one chart and write it as SVG to `name` in `out`.
pub fn svg(out: &OutDir, name: &str, chart: &Chart<'_>, series: &[Series]) -> Result<()> {
    out.write(name, svg_text(chart, series)?.as_bytes())?;
    Ok(())
}

/// `series` on one chart, as SVG text.
pub fn svg_text(chart: &Chart<'_>, series: &[Series]) -> Result<String> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (800, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root, chart, series, 20)?;
        root.present()?;
    }
    Ok(text)
}

/// Several charts on a `rows` x `cols` grid under one `title`, as SVG text (`size` in pixels).
pub fn panels_text(
    size: (u32, u32),
    (rows, cols): (usize, usize),
    title: &str,
    panels: &[Panel<'_>],
) -> Result<String> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(title, ("sans-serif", 22))?;
        for (area, panel) in root.split_evenly((rows, cols)).iter().zip(panels) {
            draw(area, &panel.chart, &panel.series, 16)?;
        }
        root.present()?;
    }
    Ok(text)
}

/// Draw one chart on `area` (title font `caption` pixels).
fn draw(area: &Area<'_>, chart: &Chart<'_>, series: &[Series], caption: u32) -> Result<()> {
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = series.iter().flat_map(|s| {
        s.points.iter().enumerate().flat_map(move |(i, p)| {
            let e = s.errors.get(i).copied().unwrap_or(0.0);
            let (lo, hi) = s.band.get(i).copied().unwrap_or((p.1, p.1));
            // Bars rise from zero.
            let base = if s.style == Style::Bars { 0.0 } else { p.1 };
            [p.1 - e, p.1 + e, lo, hi, base]
        })
    });
    // A log axis spanning less than a decade gets no tick labels (plotters labels powers of
    // ten): draw such an axis linearly.
    let (mut x0, mut x1) = range(xs.clone(), chart.log_x);
    let (mut y0, mut y1) = range(ys.clone(), chart.log_y);
    // (A log axis with no positive value, e.g. a cost that is exactly 0, is drawn linearly.)
    let positive = |mut v: Box<dyn Iterator<Item = f64> + '_>| v.any(|v| v.is_finite() && v > 0.0);
    let log_x = chart.log_x && x1 / x0 >= 10.0 && positive(Box::new(xs.clone()));
    let log_y = chart.log_y && y1 / y0 >= 10.0 && positive(Box::new(ys.clone()));
    // Integer x values (epochs, steps) get integer tick labels only.
    let integer_x = !chart.log_x
        && series.iter().flat_map(|s| &s.points).all(|p| !p.0.is_finite() || p.0.fract() == 0.0);
    let integer_ticks = integer_x.then(|| ((x1 - x0).round() as usize + 1).clamp(2, 12));
    if chart.log_x && !log_x {
        (x0, x1) = range(xs, false);
    }
    if chart.log_y && !log_y {
        (y0, y1) = range(ys, false);
    }
    // plotters' first key point on a log axis is the first power of ten in range: start the
    // axis at one, so that its lowest part has labels too.
    // (`range` padded the lowest value by 1.5; just below the power of ten under that value.)
    let power_below = |v: f64| 10f64.powf((v * 1.5).log10().floor()) * (1.0 - 1e-9);
    if log_x {
        x0 = power_below(x0);
    }
    if log_y {
        y0 = power_below(y0);
    }
    let scale = |v: f64, lo: f64, hi: f64, log: bool| {
        if log { (v.ln() - lo.ln()) / (hi.ln() - lo.ln()) } else { (v - lo) / (hi - lo) }
    };
    let legend = legend_corner(series, |(x, y)| (scale(x, x0, x1, log_x), scale(y, y0, y1, log_y)));
    let y_log_label = log_label(y0, y1);
    let (y_label, x_label) = (axis_label(y0, y1), axis_label(x0, x1));
    let x_log_label = log_label(x0, x1);
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(chart.title, ("sans-serif", caption))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70);
    macro_rules! draw {
        ($ctx:expr) => {{
            let mut ctx = $ctx;
            let mut mesh = ctx.configure_mesh();
            mesh.x_desc(chart.x_label).y_desc(chart.y_label);
            // A log axis asks for every 1..9 x 10^k key point and labels the round ones.
            if log_y {
                mesh.y_labels(log_key_points(y1 / y0))
                    .y_max_light_lines(0)
                    .y_label_formatter(&y_log_label);
            } else {
                mesh.y_label_formatter(&y_label);
            }
            match integer_ticks {
                Some(n) => mesh.x_labels(n).x_label_formatter(&integer_label),
                None if log_x => mesh
                    .x_labels(log_key_points(x1 / x0))
                    .x_max_light_lines(0)
                    .x_label_formatter(&x_log_label),
                None => mesh.x_label_formatter(&x_label),
            };
            mesh.draw()?;
            for (i, s) in series.iter().enumerate() {
                let color = COLORS[i % COLORS.len()];
                let pts = s.points.iter().copied().filter(|p| p.0.is_finite() && p.1.is_finite());
                if !s.band.is_empty() {
                    let xs = s.points.iter().map(|p| p.0);
                    let upper = xs.clone().zip(s.band.iter().map(|b| b.1));
                    let lower = xs.zip(s.band.iter().map(|b| b.0)).rev();
                    let outline: Vec<(f64, f64)> =
                        upper.chain(lower).filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
                    ctx.draw_series(std::iter::once(Polygon::new(
                        outline,
                        color.mix(0.2).filled(),
                    )))?;
                }
                let anno = match s.style {
                    Style::Points => {
                        ctx.draw_series(pts.clone().map(|p| Circle::new(p, 3, color.filled())))?
                    }
                    Style::Bars => {
                        let half = bar_width(&s.points) / 2.0;
                        ctx.draw_series(pts.clone().map(|(x, y)| {
                            Rectangle::new(
                                [(x - half, 0.0), (x + half, y)],
                                color.mix(0.75).filled(),
                            )
                        }))?
                    }
                    Style::Line | Style::LinePoints => {
                        ctx.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                    }
                };
                // An unnamed series (one of many similar lines) has no legend entry.
                if !s.name.is_empty() {
                    anno.label(s.name.clone()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                    });
                }
                if s.style == Style::LinePoints && s.points.len() <= 60 {
                    ctx.draw_series(pts.clone().map(|p| Circle::new(p, 3, color.filled())))?;
                }
                if !s.errors.is_empty() {
                    ctx.draw_series(s.points.iter().zip(&s.errors).map(|(&(x, y), &e)| {
                        ErrorBar::new_vertical(x, y - e, y, y + e, color.stroke_width(1), 6)
                    }))?;
                }
            }
            if series.iter().any(|s| !s.name.is_empty()) {
                ctx.configure_series_labels()
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .position(legend)
                    .draw()?;
            }
        }};
    }
    match (log_x, log_y) {
        (false, false) => draw!(builder.build_cartesian_2d(x0..x1, y0..y1)?),
        (true, false) => draw!(builder.build_cartesian_2d((x0..x1).log_scale(), y0..y1)?),
        (false, true) => draw!(builder.build_cartesian_2d(x0..x1, (y0..y1).log_scale())?),
        (true, true) => {
            draw!(builder.build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())?)
        }
    }
    Ok(())
}

/// A confusion matrix (`counts[label][prediction]`) as an SVG heat map: cells shaded by their
/// share of the row (the label's examples), each showing its
/// count; each row's label gives the class's error rate.
pub fn confusion_text(title: &str, counts: &[Vec<usize>]) -> Result<String> {
    let n = counts.len();
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (720, 640)).into_drawing_area();
        root.fill(&WHITE)?;
        let n = n as i32;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(125)
            .build_cartesian_2d((0..n - 1).into_segmented(), (0..n - 1).into_segmented())?;
        let centre = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) => Some(*i),
            _ => None,
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("predicted class")
            .y_desc("true class (its error rate)")
            .x_labels(n as usize)
            .y_labels(n as usize)
            .x_label_formatter(&|v| centre(v).map(|i| i.to_string()).unwrap_or_default())
            .y_label_formatter(&|v| {
                centre(v)
                    .map(|i| {
                        let label = (n - 1 - i) as usize;
                        let row = &counts[label];
                        let total = row.iter().sum::<usize>();
                        let wrong = total - row.get(label).copied().unwrap_or(0);
                        if total == 0 {
                            format!("{label}")
                        } else {
                            format!("{label} ({:.1}% wrong)", 100.0 * wrong as f64 / total as f64)
                        }
                    })
                    .unwrap_or_default()
            })
            .draw()?;
        for (label, row) in counts.iter().enumerate() {
            let total = row.iter().sum::<usize>().max(1) as f64;
            let y = n - 1 - label as i32;
            for (pred, &count) in row.iter().enumerate() {
                let x = pred as i32;
                let share = count as f64 / total;
                // white for none of the row, the first series colour for all of it
                let shade = |c: u8| (255.0 - share * (255.0 - f64::from(c))).round() as u8;
                let fill = RGBColor(shade(31), shade(119), shade(180));
                chart.draw_series(std::iter::once(Rectangle::new(
                    [
                        (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                        (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
                    ],
                    fill.filled(),
                )))?;
                let ink = if share > 0.5 { WHITE } else { BLACK };
                let style = ("sans-serif", 13)
                    .into_font()
                    .color(&ink)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                chart.draw_series(std::iter::once(Text::new(
                    count.to_string(),
                    (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y)),
                    style,
                )))?;
            }
        }
        root.present()?;
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::{axis_label, log_label, tick_label};

    #[test]
    fn an_axis_keeps_one_notation_and_log_axes_label_round_values_only() {
        let big = axis_label(40_000.0, 190_000.0);
        assert_eq!(big(&80_000.0), "8e4");
        assert_eq!(big(&120_000.0), "1.2e5");
        assert_eq!(big(&0.0), "0");
        let mid = axis_label(0.0, 1.0);
        assert_eq!(mid(&0.25), "0.25");
        // A narrow range far from zero gets the decimals that tell its ticks apart.
        let narrow = axis_label(23.5331, 23.5335);
        assert_eq!(narrow(&23.5332), "23.5332");
        assert_eq!(narrow(&23.53325), "23.53325");
        let log = log_label(0.01, 1.0);
        assert_eq!(log(&0.02), "0.02");
        assert_eq!(log(&0.03), "");
        assert_eq!(log(&(0.1 * 10.0)), "1");
        let wide = log_label(1e-17, 0.1);
        assert_eq!(wide(&1e-16), "1e-16");
        assert_eq!(wide(&0.01), "1e-2");
        assert_eq!(wide(&1.0), "1");
        assert_eq!(wide(&2e-3), "");
        // Up to four decades reaching below 0.001: 1, 2, 5, all scientific.
        let small = log_label(1e-5, 0.05);
        assert_eq!(small(&2e-4), "2e-4");
        // 5 x 10^k keeps its power (not rounded up to 1 x 10^(k+1)); 10^k from rounding.
        let tv = log_label(5e-4, 1.0);
        for (v, label) in [(0.5, "5e-1"), (0.05, "5e-2"), (0.005, "5e-3"), (0.2, "2e-1")] {
            assert_eq!(tv(&v), label);
        }
        assert_eq!(tv(&(0.1 * 0.1 * 10.0)), "1e-1");
        assert_eq!(tv(&0.999_999_999_9), "1");
        assert_eq!(tv(&1e-3), "1e-3");
    }

    #[test]
    fn tick_labels_are_short_at_any_range_and_never_negative_zero() {
        for (v, label) in [
            (1.000_000_000_000_000_1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (-0.0, "0"),
            (-2.8e-17, "0"),
            (0.5, "0.5"),
            (2.25, "2.25"),
            (0.001, "0.001"),
            (0.000_1, "1e-4"),
            (-3.0, "-3"),
            (1234.0, "1234"),
            (150_000.0, "1.5e5"),
            (0.300_000_000_000_000_04, "0.3"),
        ] {
            assert_eq!(tick_label(&v), label, "{v:e}");
        }
    }
}
