//! Charts for the dashboard and the HTML reports, rendered on the server as SVG with
//! `plotters`: no JavaScript, no fonts or scripts from elsewhere (the machines have no
//! internet). A hidden count is never drawn as a bar: its label ("<5", "x") is written
//! where the bar would start, so the picture cannot leak what the table hides.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use stod_projections::disclosure::Cell;
use stod_projections::published::{PublishedGoal, PublishedMonth};

const FONT: &str = "sans-serif";
const BAR: RGBColor = RGBColor(0x2f, 0x6f, 0xae);
const LIGHT: RGBColor = RGBColor(0x9d, 0xbd, 0xdc);
const SECOND: RGBColor = RGBColor(0xe0, 0x8a, 0x2c);
const GOAL: RGBColor = RGBColor(0x2a, 0x8a, 0x4a);
const WIDTH: u32 = 640;

type Drawn = Result<(), Box<dyn std::error::Error>>;

/// Draws with `draw` into an SVG string; a drawing error becomes a short note instead
/// of a broken page.
fn svg(
    size: (u32, u32),
    title: &str,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Drawn,
) -> String {
    let mut out = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| e.to_string().into())
            .and_then(|_| draw(&root))
            .and_then(|_| root.present().map_err(|e| e.to_string().into()))
    };
    match result {
        // The title for screen readers: plotters' root element has no label of its own,
        // so it goes on there, escaped by maud.
        Ok(()) => out.replacen(
            "<svg ",
            &format!("<svg role=\"img\" aria-label=\"{}\" ", maud::html! { (title) }.into_string()),
            1,
        ),
        Err(e) => maud::html! { p { "Diagrammet kunde inte ritas: " (e.to_string()) } }.into_string(),
    }
}

/// Said instead of bars when every count is hidden: an empty axis would look like zeros.
const ALL_HIDDEN: &str = "Alla antal är små och visas inte som diagram; se tabellen.";

/// Horizontal bars, one per labelled count, largest scale first.
pub fn bars(title: &str, items: &[(String, Cell)]) -> String {
    if items.iter().all(|(_, c)| c.is_hidden() || *c == Cell::Shown(0)) && items.iter().any(|(_, c)| c.is_hidden()) {
        return note(title, ALL_HIDDEN);
    }
    let n = items.len().max(1);
    let height = 60 + 26 * n as u32;
    let max = items.iter().filter_map(|(_, c)| c.value()).max().unwrap_or(0).max(1);
    let label_width = items.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0).clamp(6, 32) as u32 * 7 + 10;
    svg((WIDTH, height), title, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 16))
            .margin(8)
            .x_label_area_size(22)
            .y_label_area_size(label_width)
            .build_cartesian_2d(0u32..(max + max / 8 + 1), (0..n).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => items.get(*i).map(|x| x.0.clone()).unwrap_or_default(),
                _ => String::new(),
            })
            .x_label_formatter(&|v| v.to_string())
            .draw()?;
        chart.draw_series(items.iter().enumerate().filter_map(|(i, (_, c))| {
            let v = c.value()?;
            let mut bar = Rectangle::new([(0, SegmentValue::Exact(i)), (v, SegmentValue::Exact(i + 1))], BAR.filled());
            bar.set_margin(4, 4, 0, 0);
            Some(bar)
        }))?;
        chart.draw_series(items.iter().enumerate().map(|(i, (_, c))| {
            Text::new(
                format!(" {c}"),
                (c.value().unwrap_or(0), SegmentValue::CenterOf(i)),
                (FONT, 12).into_font().color(&BLACK),
            )
        }))?;
        Ok(())
    })
}

/// A chart's frame with a sentence in place of the bars.
fn note(title: &str, text: &str) -> String {
    svg((WIDTH, 90), title, |root| {
        let centred = |size: u32| TextStyle::from((FONT, size).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(title.to_owned(), ((WIDTH / 2) as i32, 10), centred(16)))?;
        root.draw(&Text::new(text.to_owned(), ((WIDTH / 2) as i32, 50), centred(13).color(&BLACK.mix(0.7))))?;
        Ok(())
    })
}

/// The goal: persons so far and the forecast against the target.
pub fn goal(g: &PublishedGoal) -> String {
    let items = [("Hittills".to_owned(), g.persons_so_far), ("Prognos helår".to_owned(), g.forecast)];
    let max = items.iter().filter_map(|(_, c)| c.value()).max().unwrap_or(0).max(g.target);
    let title = format!("Personer {} mot målet {}", g.year, g.target);
    svg((WIDTH, 150), &title, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&title, (FONT, 16))
            .margin(8)
            .x_label_area_size(22)
            .y_label_area_size(110)
            .build_cartesian_2d(0u32..(max + max / 6 + 1), (0..2usize).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(2)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => items.get(*i).map(|x| x.0.clone()).unwrap_or_default(),
                _ => String::new(),
            })
            .draw()?;
        chart.draw_series(items.iter().enumerate().filter_map(|(i, (_, c))| {
            let colour = if i == 0 { BAR } else { LIGHT };
            let mut bar = Rectangle::new(
                [(0, SegmentValue::Exact(i)), (c.value()?, SegmentValue::Exact(i + 1))],
                colour.filled(),
            );
            bar.set_margin(6, 6, 0, 0);
            Some(bar)
        }))?;
        chart.draw_series(items.iter().enumerate().map(|(i, (_, c))| {
            Text::new(
                format!(" {c}"),
                (c.value().unwrap_or(0), SegmentValue::CenterOf(i)),
                (FONT, 12).into_font().color(&BLACK),
            )
        }))?;
        // The target as a vertical line across both bars.
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(g.target, SegmentValue::Exact(0)), (g.target, SegmentValue::Exact(2))],
            GOAL.stroke_width(3),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!(" mål {}", g.target),
            (g.target, SegmentValue::Exact(0)),
            (FONT, 12).into_font().color(&GOAL),
        )))?;
        Ok(())
    })
}

/// Intakes and exits per month, side by side.
pub fn months(title: &str, rows: &[PublishedMonth]) -> String {
    let n = rows.len().max(1);
    let max = rows.iter().flat_map(|m| [m.intakes.value(), m.exits.value()]).flatten().max().unwrap_or(0).max(1);
    svg((WIDTH, 260), title, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 16))
            .margin(8)
            .x_label_area_size(26)
            .y_label_area_size(34)
            .build_cartesian_2d((0..n).into_segmented(), 0u32..(max + max / 5 + 1))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => rows.get(*i).map(|m| crate::short_month(&m.month)).unwrap_or_default(),
                _ => String::new(),
            })
            .y_desc("antal")
            .draw()?;
        let series = |pick: fn(&PublishedMonth) -> Cell, first: bool| {
            rows.iter().enumerate().filter_map(move |(i, m)| {
                let v = pick(m).value()?;
                let (a, b) = if first {
                    (SegmentValue::Exact(i), SegmentValue::CenterOf(i))
                } else {
                    (SegmentValue::CenterOf(i), SegmentValue::Exact(i + 1))
                };
                let mut bar = Rectangle::new([(a, 0), (b, v)], if first { BAR.filled() } else { SECOND.filled() });
                bar.set_margin(0, 0, if first { 3 } else { 0 }, if first { 0 } else { 3 });
                Some(bar)
            })
        };
        chart
            .draw_series(series(|m| m.intakes, true))?
            .label("inskrivningar")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], BAR.filled()));
        chart
            .draw_series(series(|m| m.exits, false))?
            .label("avslut")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], SECOND.filled()));
        // Hidden months say so where the bar would stand.
        chart.draw_series(rows.iter().enumerate().flat_map(|(i, m)| {
            [(m.intakes, SegmentValue::Exact(i)), (m.exits, SegmentValue::CenterOf(i))]
                .into_iter()
                .filter(|(c, _)| c.is_hidden())
                .map(|(c, x)| Text::new(c.to_string(), (x, 0), (FONT, 10).into_font().color(&BLACK)))
                .collect::<Vec<_>>()
        }))?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .draw()?;
        Ok(())
    })
}
