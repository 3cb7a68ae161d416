//! `pnl.png` and `latency.png` (R8.2), drawn with `plotters` on the main thread after the run
//! (cold: every hot thread has ended).
//!
//! Text is rasterised with `ab_glyph` from a TrueType file read at run time (DejaVu Sans,
//! `fonts-dejavu-core` on Debian; [`FONT_PATHS`], or `ARBOT_PLOT_FONT`): plotters 0.3's own
//! text needs fontconfig, so [`GlyphBackend`] wraps the bitmap backend and draws the text
//! itself. Without a font file the plots are not drawn and the report says why.
#![forbid(unsafe_code)]

use super::curve::CurveRow;
use crate::journal::CurveKind;
use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::DrawingErrorKind;
use plotters_backend::{BackendColor, BackendCoord, BackendTextStyle};
use std::path::{Path, PathBuf};

/// Where the font is looked for, in order (after `ARBOT_PLOT_FONT`).
pub const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Load the plot font: `ARBOT_PLOT_FONT`, else the first of [`FONT_PATHS`] that exists.
pub fn load_font() -> Result<FontVec, String> {
    let mut tried: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("ARBOT_PLOT_FONT") {
        tried.push(PathBuf::from(p));
    }
    tried.extend(FONT_PATHS.iter().map(PathBuf::from));
    for p in &tried {
        if let Ok(b) = std::fs::read(p) {
            return FontVec::try_from_vec(b).map_err(|e| format!("{}: {e}", p.display()));
        }
    }
    Err(format!(
        "no font file (tried {}; Debian: apt-get install fonts-dejavu-core, or set ARBOT_PLOT_FONT)",
        tried
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// A drawing backend that draws text with `ab_glyph` and everything else with the wrapped
/// backend.
pub struct GlyphBackend<'f, B: DrawingBackend> {
    inner: B,
    font: &'f FontVec,
}

impl<'f, B: DrawingBackend> GlyphBackend<'f, B> {
    /// Wrap `inner`.
    pub fn new(inner: B, font: &'f FontVec) -> Self {
        GlyphBackend { inner, font }
    }

    /// Width, ascent and descent (negative) of `text` at `size` px.
    fn measure(&self, text: &str, size: f64) -> (f32, f32, f32) {
        let sf = self.font.as_scaled(PxScale::from(size as f32));
        let mut w = 0.0f32;
        let mut prev = None;
        for c in text.chars() {
            let id = sf.glyph_id(c);
            if let Some(p) = prev {
                w += sf.kern(p, id);
            }
            w += sf.h_advance(id);
            prev = Some(id);
        }
        (w, sf.ascent(), sf.descent())
    }
}

impl<B: DrawingBackend> DrawingBackend for GlyphBackend<'_, B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.ensure_prepared()
    }
    fn present(&mut self) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.present()
    }
    fn draw_pixel(
        &mut self,
        p: BackendCoord,
        c: BackendColor,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_pixel(p, c)
    }
    fn draw_line<S: plotters_backend::BackendStyle>(
        &mut self,
        a: BackendCoord,
        b: BackendCoord,
        s: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_line(a, b, s)
    }
    fn draw_rect<S: plotters_backend::BackendStyle>(
        &mut self,
        a: BackendCoord,
        b: BackendCoord,
        s: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_rect(a, b, s, fill)
    }
    fn draw_path<S: plotters_backend::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        s: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_path(path, s)
    }
    fn draw_circle<S: plotters_backend::BackendStyle>(
        &mut self,
        c: BackendCoord,
        r: u32,
        s: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_circle(c, r, s, fill)
    }
    fn fill_polygon<S: plotters_backend::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        s: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.fill_polygon(vert, s)
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<T: BackendTextStyle>(
        &self,
        text: &str,
        style: &T,
    ) -> Result<(u32, u32), DrawingErrorKind<B::ErrorType>> {
        let (w, a, d) = self.measure(text, style.size());
        Ok((w.ceil() as u32, (a - d).ceil() as u32))
    }

    fn draw_text<T: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &T,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let size = style.size();
        let (width, ascent, descent) = self.measure(text, size);
        let height = ascent - descent;
        let dx = match style.anchor().h_pos {
            HPos::Left => 0.0,
            HPos::Right => -width,
            HPos::Center => -width / 2.0,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0.0,
            VPos::Center => -height / 2.0,
            VPos::Bottom => -height,
        };
        let trans = style.transform();
        let (w, h) = self.get_size();
        let sf = self.font.as_scaled(PxScale::from(size as f32));
        let mut caret = 0.0f32;
        let mut prev = None;
        let mut pixels: Vec<(i32, i32, f32)> = Vec::new();
        for c in text.chars() {
            let id = sf.glyph_id(c);
            if let Some(p) = prev {
                caret += sf.kern(p, id);
            }
            let g = id.with_scale_and_position(sf.scale(), ab_glyph::point(caret, ascent));
            caret += sf.h_advance(id);
            prev = Some(id);
            if let Some(o) = self.font.outline_glyph(g) {
                let b = o.px_bounds();
                // whole-pixel offsets (rounding each pixel's fractional position would skip
                // or double a row where it crosses zero)
                let (ox, oy) = ((b.min.x + dx).round() as i32, (b.min.y + dy).round() as i32);
                o.draw(|gx, gy, cov| {
                    if cov > 0.02 {
                        let (x, y) = (ox + gx as i32, oy + gy as i32);
                        pixels.push((x, y, cov));
                    }
                });
            }
        }
        for (x, y, cov) in pixels {
            let (x, y) = trans.transform(x, y);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if x >= 0 && x < w as i32 && y >= 0 && y < h as i32 {
                let c = BackendColor {
                    alpha: color.alpha * cov.min(1.0) as f64,
                    rgb: color.rgb,
                };
                self.inner.draw_pixel((x, y), c)?;
            }
        }
        Ok(())
    }
}

type Area<'a, 'f> = DrawingArea<GlyphBackend<'f, BitMapBackend<'a>>, Shift>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// `pnl.png`: the mark-to-market PnL over data time with the trades marked (green: the trade's
/// own mark > 0, red: ≤ 0), and the drawdown below it. `title` names the run.
pub fn draw_pnl(path: &Path, font: &FontVec, title: &str, rows: &[CurveRow]) -> Result<(), String> {
    let root: Area =
        GlyphBackend::new(BitMapBackend::new(path, (1400, 900)), font).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let Some(first) = rows.first() else {
        return Err("the PnL curve is empty (no message reached detection)".into());
    };
    let t0 = first.ts_ns;
    let min = |ns: u64| ns.saturating_sub(t0) as f64 / 60e9;
    let usd = |e8: i64| e8 as f64 / 1e8;
    let t_end = min(rows.last().map_or(t0, |r| r.ts_ns)).max(1e-6);
    let mut peak = f64::MIN;
    let pts: Vec<(f64, f64, f64)> = rows
        .iter()
        .map(|r| {
            let v = usd(r.mtm_e8);
            peak = peak.max(v);
            (min(r.ts_ns), v, v - peak)
        })
        .collect();
    let (lo, hi) = pts
        .iter()
        .fold((0.0f64, 0.0f64), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let pad = ((hi - lo) * 0.08).max(0.5);
    let dd_lo = pts.iter().fold(0.0f64, |a, p| a.min(p.2));
    let dd_pad = (-dd_lo * 0.1).max(0.5);
    let root = root
        .titled(title, ("sans-serif", 26).into_font())
        .map_err(err)?;
    let (top, bottom) = root.split_vertically(560);
    let x_desc = format!(
        "data time, minutes since {} (UTC)",
        &crate::logger::iso_ns(t0)[..19]
    );
    let mut c = ChartBuilder::on(&top)
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .caption(
            "mark-to-market PnL (fills, fees, open inventory at the mids); dots: trades (green: own mark > 0, red: <= 0)",
            ("sans-serif", 17),
        )
        .build_cartesian_2d(0.0..t_end, (lo - pad)..(hi + pad))
        .map_err(err)?;
    c.configure_mesh()
        .x_desc(&x_desc)
        .y_desc("PnL, USD")
        .axis_desc_style(("sans-serif", 17))
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    c.draw_series(std::iter::once(PathElement::new(
        vec![(0.0, 0.0), (t_end, 0.0)],
        BLACK.mix(0.4),
    )))
    .map_err(err)?;
    c.draw_series(LineSeries::new(
        pts.iter().map(|p| (p.0, p.1)),
        BLUE.stroke_width(2),
    ))
    .map_err(err)?;
    c.draw_series(rows.iter().filter(|r| r.kind == CurveKind::Trade).map(|r| {
        let win = r.trade.as_ref().is_some_and(|t| t.pnl_e8 > 0);
        let col = if win { GREEN } else { RED };
        Circle::new((min(r.ts_ns), usd(r.mtm_e8)), 6, col.filled())
    }))
    .map_err(err)?;
    let mut d = ChartBuilder::on(&bottom)
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .caption(
            "drawdown: PnL minus its highest value so far",
            ("sans-serif", 17),
        )
        .build_cartesian_2d(0.0..t_end, (dd_lo - dd_pad)..dd_pad.min(0.5))
        .map_err(err)?;
    d.configure_mesh()
        .x_desc(&x_desc)
        .y_desc("drawdown, USD")
        .axis_desc_style(("sans-serif", 17))
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    d.draw_series(
        AreaSeries::new(pts.iter().map(|p| (p.0, p.2)), 0.0, RED.mix(0.3)).border_style(RED),
    )
    .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// `latency.png`: per stage, the latency at each percentile (HdrHistogram's percentile plot:
/// x is 1/(1 − percentile) on a log axis, y the latency in µs on a log axis).
pub fn draw_latency(
    path: &Path,
    font: &FontVec,
    title: &str,
    stages: &[(&str, &crate::stats::Latency)],
) -> Result<(), String> {
    let root: Area =
        GlyphBackend::new(BitMapBackend::new(path, (1400, 900)), font).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let (mut ymin, mut ymax, mut xmax) = (f64::MAX, 0.0f64, 10.0f64);
    for (name, l) in stages {
        let h = l.histogram();
        if h.is_empty() {
            continue;
        }
        let mut pts = Vec::new();
        for v in h.iter_quantiles(5) {
            let q = v.quantile_iterated_to();
            if q >= 1.0 {
                break;
            }
            let x = 1.0 / (1.0 - q);
            let y = (v.value_iterated_to().max(1) as f64) / 1e3;
            pts.push((x, y));
        }
        for p in &pts {
            ymin = ymin.min(p.1);
            ymax = ymax.max(p.1);
            xmax = xmax.max(p.0);
        }
        series.push((
            format!(
                "{name} (n = {}, max {:.1} µs)",
                h.len(),
                h.max() as f64 / 1e3
            ),
            pts,
        ));
    }
    if series.is_empty() {
        return Err("no latency samples".into());
    }
    let root = root
        .titled(title, ("sans-serif", 26).into_font())
        .map_err(err)?;
    let mut c = ChartBuilder::on(&root)
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .caption(
            "per-stage latency by percentile (HdrHistogram percentile distribution)",
            ("sans-serif", 17),
        )
        .build_cartesian_2d(
            (1.0..xmax * 1.5).log_scale(),
            (ymin / 1.5..ymax * 1.5).log_scale(),
        )
        .map_err(err)?;
    c.configure_mesh()
        .x_desc("percentile (log scale of 1/(1 - percentile))")
        .y_desc("latency, µs (log scale)")
        .x_label_formatter(&|x| {
            let p = 100.0 * (1.0 - 1.0 / x);
            if p < 0.5 {
                "0 %".to_string()
            } else {
                let s = format!("{p:.4}");
                format!("{} %", s.trim_end_matches('0').trim_end_matches('.'))
            }
        })
        .y_label_formatter(&|y| match *y {
            y if y >= 10.0 => format!("{y:.0}"),
            y if y >= 1.0 => format!("{y:.1}"),
            y if y >= 0.1 => format!("{y:.2}"),
            y => format!("{y:.3}"),
        })
        .axis_desc_style(("sans-serif", 17))
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    let palette = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    for (k, (name, pts)) in series.iter().enumerate() {
        let col = palette[k % palette.len()];
        c.draw_series(LineSeries::new(pts.iter().copied(), col.stroke_width(2)))
            .map_err(err)?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], col.stroke_width(3)));
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Draw both plots into `out_dir` after a run; returns `report.json` `plots`: the files
/// written, or why not.
pub fn write(
    out_dir: &Path,
    run_name: &str,
    mode: &str,
    rows: &[CurveRow],
    stages: &[(&str, &crate::stats::Latency)],
) -> serde_json::Value {
    let font = match load_font() {
        Ok(f) => f,
        Err(e) => return serde_json::json!({"drawn": false, "error": e}),
    };
    let trades = rows.iter().filter(|r| r.kind == CurveKind::Trade).count();
    let fin = rows.last().map_or(0.0, |r| r.mtm_e8 as f64 / 1e8);
    let t1 = format!("arbot {mode} {run_name}: PnL over {trades} trades, final {fin:+.2} USD");
    let t2 = format!("arbot {mode} {run_name}: latency per stage");
    let p1 = draw_pnl(&out_dir.join("pnl.png"), &font, &t1, rows);
    let p2 = draw_latency(&out_dir.join("latency.png"), &font, &t2, stages);
    serde_json::json!({
        "drawn": p1.is_ok() && p2.is_ok(),
        "pnl": p1.as_ref().map(|_| "pnl.png".to_string()).unwrap_or_else(|e| format!("not drawn: {e}")),
        "latency": p2.as_ref().map(|_| "latency.png".to_string()).unwrap_or_else(|e| format!("not drawn: {e}")),
    })
}
