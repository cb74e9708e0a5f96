//! The overview (the headline numbers, the weekly trend, the reasons) and the breakdowns.

use leptos::prelude::*;
use serde_json::Value;

use super::{Kpi, f, i, rows, s, show};
use crate::api;
use crate::charts::{Bars, Line};
use crate::nav::Ctx;
use crate::text::{count, label, money, pct};

fn stats() -> RwSignal<api::Load> {
    let ctx = Ctx::get();
    api::fetch(move || {
        ctx.version.get();
        format!("{}?{}", ctx.admin("/stats"), ctx.range_query())
    })
}

/// The headline numbers for the range and mode, the weekly trend and the reasons.
#[component]
pub fn Overview() -> impl IntoView {
    let load = stats();
    view! {
        <h1>"Overview"</h1>
        {show(load, |v| {
            let t = v["totals"].clone();
            let durability = rows(&v, "durability");
            let kept = |days: i64| {
                durability.iter().find(|d| i(d, "days") == days).map(|d| {
                    if i(d, "saves_measured") == 0 { "pending".to_string() } else { pct(f(d, "share")) }
                }).unwrap_or_else(|| "–".into())
            };
            let durable = match [kept(30), kept(60), kept(90)] {
                [a, b, c] if a == b && b == c => a,
                [a, b, c] => format!("{a} · {b} · {c}"),
            };
            let sessions = i(&t, "sessions");
            // Retained at 30 · 60 · 90 days: a rate once any session is old enough to know.
            let retained = {
                let at = |k: &str| {
                    let r = &t[k];
                    if i(r, "measured") == 0 { "pending".to_string() } else { pct(f(r, "rate")) }
                };
                match [at("retained_30d"), at("retained_60d"), at("retained_90d")] {
                    [a, b, c] if a == b && b == c => a,
                    [a, b, c] => format!("{a} · {b} · {c}"),
                }
            };
            let kept_90 = match f(&t, "net_revenue_kept_90d_per_session_cents") {
                Some(per) => format!("{} ({} a session)", money(i(&t, "net_revenue_kept_90d_cents")), money(per.round() as i64)),
                None => "pending".to_string(),
            };
            let apart = format!("{} bounces and {} repeat opens within 30 minutes not counted", count(i(&t, "bounces")), count(i(&t, "duplicates")));
            let weeks: Vec<(String, f64)> = rows(&v["breakdowns"], "week")
                .iter()
                .map(|r| (s(r, "key"), f(r, "save_rate").unwrap_or(0.0)))
                .collect();
            let trend = trend_caption(&weeks);
            let mut reasons: Vec<Value> = rows(&v["breakdowns"], "reason");
            reasons.sort_by_key(|r| -i(r, "sessions"));
            let reason_bars: Vec<(String, f64, String)> = reasons
                .iter()
                .map(|r| (label(&s(r, "key")), f(r, "save_rate").unwrap_or(0.0), format!("of {} sessions ({} of all)", count(i(r, "sessions")), pct(f(r, "share")))))
                .collect();
            let best = reason_bars
                .iter()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(k, v, _)| format!("{k} saves best, at {}", pct(Some(*v))))
                .unwrap_or_else(|| "No reasons chosen in this range yet".into());
            let top = reasons.first().map(|r| format!("; the most chosen reason is {}", label(&s(r, "key")).to_lowercase())).unwrap_or_default();
            view! {
                <dl class="kpis">
                    <Kpi name="Sessions" value=count(sessions) formula="cancel flows opened"/>
                    <Kpi name="Save rate" value=pct(f(&t, "save_rate")) formula="saved sessions ÷ sessions"/>
                    <Kpi name="Deflection rate" value=pct(f(&t, "deflection_rate")) formula="sessions not ending in a cancellation ÷ sessions"/>
                    <Kpi name="Saved MRR" value=money(i(&t, "saved_mrr_cents")) formula="monthly revenue of saved customers at session time"/>
                    <Kpi name="Offer cost" value=money(i(&t, "offer_cost_cents")) formula="what accepted offers give away over their terms"/>
                    <Kpi name="Net revenue kept (90 days)" value=kept_90 formula="revenue paid over 90 days after each session, less the offer's cost in that window"/>
                    <Kpi name="Retained" value=retained formula="sessions whose customer was still subscribed 30 · 60 · 90 days later (pending: too recent to know)"/>
                    <Kpi name="Save durability" value=durable formula="saved customers still subscribed at 30 · 60 · 90 days (pending: saves too recent to know)"/>
                </dl>
                <p class="muted">{apart}"."</p>
                <section aria-labelledby="trend-h">
                    <h2 id="trend-h">"Save rate by week"</h2>
                    {if weeks.is_empty() {
                        view! { <p class="muted">"No sessions in this range."</p> }.into_any()
                    } else {
                        view! { <Line points=weeks caption=trend head=["Week", "Save rate"] format=|v| pct(Some(v))/> }.into_any()
                    }}
                </section>
                <section aria-labelledby="reasons-h">
                    <h2 id="reasons-h">"Reasons and their save rates"</h2>
                    <Bars rows=reason_bars caption=format!("{best}{top}.") head=["Reason", "Save rate"]/>
                </section>
            }
            .into_any()
        })}
    }
}

/// The trend in words: first week against last.
fn trend_caption(weeks: &[(String, f64)]) -> String {
    match (weeks.first(), weeks.last()) {
        (Some(a), Some(b)) if weeks.len() > 1 => {
            let verb = if b.1 > a.1 + 0.005 {
                "rose"
            } else if b.1 + 0.005 < a.1 {
                "fell"
            } else {
                "held steady"
            };
            format!(
                "Save rate {verb} from {} in the week of {} to {} in the week of {}.",
                pct(Some(a.1)),
                a.0,
                pct(Some(b.1)),
                b.0
            )
        }
        (Some(a), _) => format!("Save rate {} in the week of {}.", pct(Some(a.1)), a.0),
        _ => String::new(),
    }
}

/// Every breakdown the stats API returns, one table each.
#[component]
pub fn Breakdowns() -> impl IntoView {
    let load = stats();
    let order = [
        "reason",
        "offer_kind",
        "plan",
        "tenure_band",
        "variant",
        "week",
    ];
    view! {
        <h1>"Breakdowns"</h1>
        <p class="muted">"Save rate = saved sessions ÷ sessions. Saved MRR is the customers' monthly revenue at session time; offer cost is what the accepted offers give away over their terms."</p>
        {show(load, move |v| {
            order.iter().map(|dim| {
                let list = rows(&v["breakdowns"], dim);
                let id = format!("bd-{dim}");
                let id2 = id.clone();
                view! {
                    <section aria-labelledby=id2>
                        <h2 id=id>{format!("By {}", label(dim).to_lowercase())}</h2>
                        <div class="scroll">
                        <table>
                            <thead><tr>
                                <th scope="col">{label(dim)}</th>
                                <th scope="col" class="num">"Sessions"</th>
                                <th scope="col" class="num">"Share"</th>
                                <th scope="col" class="num">"Saves"</th>
                                <th scope="col" class="num">"Save rate"</th>
                                <th scope="col" class="num">"Cancels"</th>
                                <th scope="col" class="num">"Abandons"</th>
                                <th scope="col" class="num">"Saved MRR"</th>
                                <th scope="col" class="num">"Offer cost"</th>
                                <th scope="col" class="num">"Net revenue kept (90 days)"</th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|r| view! {
                                    <tr>
                                        <th scope="row">{s(&r, "key")}</th>
                                        <td class="num">{count(i(&r, "sessions"))}</td>
                                        <td class="num">{pct(f(&r, "share"))}</td>
                                        <td class="num">{count(i(&r, "saves"))}</td>
                                        <td class="num">{pct(f(&r, "save_rate"))}</td>
                                        <td class="num">{count(i(&r, "cancels"))}</td>
                                        <td class="num">{count(i(&r, "abandons"))}</td>
                                        <td class="num">{money(i(&r, "saved_mrr_cents"))}</td>
                                        <td class="num">{money(i(&r, "offer_cost_cents"))}</td>
                                        <td class="num">{if i(&r, "net_revenue_kept_90d_sessions") == 0 { "pending".to_string() } else { money(i(&r, "net_revenue_kept_90d_cents")) }}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        </div>
                    </section>
                }
            }).collect_view().into_any()
        })}
    }
}
