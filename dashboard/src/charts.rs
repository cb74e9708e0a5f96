//! Charts drawn as SVG by the app: each sits in a `figure` whose caption states the takeaway, with
//! a data table for screen readers (the SVG itself is hidden from them). No canvas, no library.

use leptos::prelude::*;

/// The table a screen reader reads in place of a chart.
fn data_table(head: [&'static str; 2], rows: Vec<(String, String)>) -> impl IntoView {
    view! {
        <div class="sr-only"><table>
            <thead><tr><th scope="col">{head[0]}</th><th scope="col">{head[1]}</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|(k, v)| view! { <tr><th scope="row">{k}</th><td>{v}</td></tr> }).collect_view()}
            </tbody>
        </table></div>
    }
}

const W: f64 = 640.0;
const H: f64 = 220.0;
const PAD_L: f64 = 48.0;
const PAD_R: f64 = 16.0;
const PAD_T: f64 = 12.0;
const PAD_B: f64 = 28.0;

/// A line over labelled points (weeks), the y axis from 0 to the largest value.
#[component]
pub fn Line(
    /// `(label, value)` in order.
    points: Vec<(String, f64)>,
    /// The takeaway.
    caption: String,
    /// The column heads of the data table.
    head: [&'static str; 2],
    /// Writes a value for the axis and the table.
    format: fn(f64) -> String,
) -> impl IntoView {
    let top = points
        .iter()
        .map(|p| p.1)
        .fold(0.0_f64, f64::max)
        .max(f64::EPSILON);
    let n = points.len().max(1);
    let x = move |i: usize| {
        if n == 1 {
            PAD_L + (W - PAD_L - PAD_R) / 2.0
        } else {
            PAD_L + (W - PAD_L - PAD_R) * i as f64 / (n - 1) as f64
        }
    };
    let y = move |v: f64| PAD_T + (H - PAD_T - PAD_B) * (1.0 - v / top);
    let path = points
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.1)))
        .collect::<Vec<_>>()
        .join(" ");
    let rows = points
        .iter()
        .map(|(k, v)| (k.clone(), format(*v)))
        .collect();
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {W} {H}") aria-hidden="true" focusable="false" preserveAspectRatio="none">
                <line class="axis" x1=PAD_L y1=y(0.0) x2=W - PAD_R y2=y(0.0)/>
                <line class="grid" x1=PAD_L y1=y(top) x2=W - PAD_R y2=y(top)/>
                <text class="tick" x=PAD_L - 6.0 y=y(top) + 4.0 text-anchor="end">{format(top)}</text>
                <text class="tick" x=PAD_L - 6.0 y=y(0.0) + 4.0 text-anchor="end">{format(0.0)}</text>
                <polyline class="series" points=path fill="none"/>
                {points.iter().enumerate().map(|(i, (k, v))| view! {
                    <circle class="dot" cx=x(i) cy=y(*v) r="3.5"/>
                    <text class="tick" x=x(i) y=H - 8.0 text-anchor="middle">{k.get(5..).unwrap_or(k).to_string()}</text>
                }).collect_view()}
            </svg>
            <figcaption>{caption}</figcaption>
            {data_table(head, rows)}
        </figure>
    }
}

/// Horizontal bars of shares (0 to 1), one per labelled row, each with its value written beside.
#[component]
pub fn Bars(
    /// `(label, share, note)`: the note follows the value (`of 341 sessions`).
    rows: Vec<(String, f64, String)>,
    /// The takeaway.
    caption: String,
    /// The column heads of the data table.
    head: [&'static str; 2],
) -> impl IntoView {
    let top = rows
        .iter()
        .map(|r| r.1)
        .fold(0.0_f64, f64::max)
        .max(f64::EPSILON);
    let row_h = 28.0;
    let label_w = 170.0;
    let h = row_h * rows.len() as f64 + 8.0;
    let table = rows
        .iter()
        .map(|(k, v, note)| (k.clone(), format!("{} {note}", crate::text::pct(Some(*v)))))
        .collect();
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {W} {h}") aria-hidden="true" focusable="false">
                {rows.iter().enumerate().map(|(i, (k, v, _))| {
                    let y = 4.0 + row_h * i as f64;
                    let w = (W - label_w - 80.0) * v / top;
                    view! {
                        <text class="label" x=label_w - 8.0 y=y + 18.0 text-anchor="end">{k.clone()}</text>
                        <rect class="bar" x=label_w y=y + 5.0 width=w.max(1.0) height=row_h - 10.0 rx="3"/>
                        <text class="value" x=label_w + w + 6.0 y=y + 18.0>{crate::text::pct(Some(*v))}</text>
                    }
                }).collect_view()}
            </svg>
            <figcaption>{caption}</figcaption>
            {data_table(head, table)}
        </figure>
    }
}

/// A row of [`Intervals`]: the label, the point estimate and its interval (none for a baseline).
pub type IntervalRow = (String, Option<f64>, Option<(f64, f64)>);

/// One interval per row around a zero line (an experiment's relative uplift and its 95% interval).
#[component]
pub fn Intervals(
    /// `(label, point, low, high)`; rows without an interval show their label only.
    rows: Vec<IntervalRow>,
    /// The takeaway.
    caption: String,
) -> impl IntoView {
    let reach = rows
        .iter()
        .filter_map(|r| r.2)
        .flat_map(|(lo, hi)| [lo.abs(), hi.abs()])
        .fold(0.05_f64, f64::max);
    let row_h = 30.0;
    let label_w = 140.0;
    let h = row_h * rows.len() as f64 + 24.0;
    let span = W - label_w - PAD_R;
    let x = move |v: f64| label_w + span * (v + reach) / (2.0 * reach);
    let table = rows
        .iter()
        .map(|(k, p, ci)| {
            let v = match (p, ci) {
                (Some(p), Some((lo, hi))) => format!(
                    "{} (95% interval {} to {})",
                    signed(*p),
                    signed(*lo),
                    signed(*hi)
                ),
                (Some(p), None) => signed(*p),
                _ => "baseline".to_string(),
            };
            (k.clone(), v)
        })
        .collect();
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {W} {h}") aria-hidden="true" focusable="false">
                <line class="axis" x1=x(0.0) y1="0" x2=x(0.0) y2=h - 18.0/>
                <text class="tick" x=x(-reach) y=h - 4.0 text-anchor="start">{signed(-reach)}</text>
                <text class="tick" x=x(0.0) y=h - 4.0 text-anchor="middle">"0"</text>
                <text class="tick" x=x(reach) y=h - 4.0 text-anchor="end">{signed(reach)}</text>
                {rows.iter().enumerate().map(|(i, (k, p, ci))| {
                    let y = 4.0 + row_h * i as f64 + row_h / 2.0;
                    view! {
                        <text class="label" x=label_w - 8.0 y=y + 4.0 text-anchor="end">{k.clone()}</text>
                        {ci.map(|(lo, hi)| view! {
                            <line class={if lo > 0.0 { "interval up" } else if hi < 0.0 { "interval down" } else { "interval" }}
                                x1=x(lo) y1=y x2=x(hi) y2=y/>
                        })}
                        {p.filter(|_| ci.is_some()).map(|p| view! { <circle class="dot" cx=x(p) cy=y r="4"/> })}
                    }
                }).collect_view()}
            </svg>
            <figcaption>{caption}</figcaption>
            {data_table(["Variant", "Relative uplift"], table)}
        </figure>
    }
}

/// A relative change with its sign (`+30.2%`).
pub fn signed(v: f64) -> String {
    format!("{:+.1}%", v * 100.0)
}
