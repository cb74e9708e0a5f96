//! Experiments: the list with status, and each report read in order — health checks first, then
//! the verdict in plain words, then the variants with their intervals — with start, stop and ship.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{Value, json};

use super::{Notice, f, i, notice_view, rows, s, show};
use crate::api;
use crate::charts::{IntervalRow, Intervals, signed};
use crate::nav::{Ctx, Link};
use crate::text::{count, label, pct};

/// Every experiment of the app with its status.
#[component]
pub fn List() -> impl IntoView {
    let ctx = Ctx::get();
    let load = api::fetch(move || {
        ctx.version.get();
        ctx.admin("/experiments")
    });
    view! {
        <h1>"Experiments"</h1>
        {show(load, |v| {
            let list = rows(&v, "experiments");
            if list.is_empty() {
                return view! { <p>"No experiments yet. Create one through the admin API (POST /v1/admin/apps/{app}/experiments) or the flow editor's config."</p> }.into_any();
            }
            view! {
                <div class="scroll">
                <table>
                    <thead><tr>
                        <th scope="col">"Experiment"</th><th scope="col">"Status"</th>
                        <th scope="col">"Primary metric"</th><th scope="col">"Variants"</th><th scope="col">"Hypothesis"</th>
                    </tr></thead>
                    <tbody>
                        {list.into_iter().map(|e| {
                            let key = s(&e, "key");
                            let variants = rows(&e, "variants").iter().map(|v| {
                                format!("{} {:.0}%{}", s(v, "key"), f(v, "weight").unwrap_or(0.0) * 100.0, if v["holdout"] == true { " (holdout)" } else { "" })
                            }).collect::<Vec<_>>().join(", ");
                            let status = s(&e, "status");
                            view! {
                                <tr>
                                    <th scope="row"><Link to=format!("/experiments/{key}")>{key.clone()}</Link></th>
                                    <td><span class=format!("badge {status}")>{label(&status)}</span></td>
                                    <td>{label(&s(&e, "primary_metric"))}</td>
                                    <td>{variants}</td>
                                    <td>{s(&e, "hypothesis")}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
                </div>
            }.into_any()
        })}
    }
}

/// One experiment's report and its actions.
#[component]
pub fn Report(
    /// The experiment's key.
    key: String,
) -> impl IntoView {
    let ctx = Ctx::get();
    let path = format!("/experiments/{}", api::enc(&key));
    let report = {
        let path = path.clone();
        api::fetch(move || {
            ctx.version.get();
            format!(
                "{}?mode={}",
                ctx.admin(&format!("{path}/report")),
                ctx.mode.get()
            )
        })
    };
    let list = api::fetch(move || {
        ctx.version.get();
        ctx.admin("/experiments")
    });
    let notice = RwSignal::new(None::<Notice>);
    let confirm_ship = RwSignal::new(None::<String>);
    let act = {
        let path = path.clone();
        move |action: &'static str, body: Option<Value>, done: String| {
            let url = ctx.admin(&format!("{path}/{action}"));
            spawn_local(async move {
                match api::call("POST", &url, body.as_ref()).await {
                    Ok(_) => {
                        notice.set(Some(Notice::Done(done)));
                        confirm_ship.set(None);
                        ctx.changed();
                    }
                    Err(f) => notice.set(Some(Notice::Refused(f.message))),
                }
            });
        }
    };
    let key_for_status = key.clone();
    let status = Memo::new(move |_| match list.get() {
        api::Load::Ready(v) => rows(&v, "experiments")
            .into_iter()
            .find(|e| s(e, "key") == key_for_status)
            .map(|e| s(&e, "status"))
            .unwrap_or_default(),
        _ => String::new(),
    });
    let status_for_actions = move || status.get();
    let act_start = act.clone();
    let act_stop = act.clone();
    let act_ship = act.clone();
    let key_title = key.clone();
    view! {
        <p class="crumbs"><Link to="/experiments".to_string()>"Experiments"</Link>" / "{key.clone()}</p>
        <h1>{key_title}" "<span class=move || format!("badge {}", status.get())>{move || label(&status.get())}</span></h1>
        {notice_view(notice)}
        {move || ctx.can_edit().then(|| {
            let st = status_for_actions();
            let a1 = act_start.clone();
            let a2 = act_stop.clone();
            view! {
                <div class="actions">
                    {(st != "running").then(|| view! {
                        <button on:click=move |_| a1("start", None, "Started: new sessions are assigned to its variants.".into())>"Start"</button>
                    })}
                    {(st == "running").then(|| view! {
                        <button on:click=move |_| a2("stop", None, "Stopped: new sessions get the standard offers; the report keeps its data.".into())>"Stop"</button>
                    })}
                </div>
            }
        })}
        {move || confirm_ship.get().map(|variant| {
            let ship = act_ship.clone();
            let v2 = variant.clone();
            view! {
                <div class="confirm" role="alertdialog" aria-labelledby="ship-h" aria-describedby="ship-d">
                    <h2 id="ship-h">{format!("Ship “{variant}”?")}</h2>
                    <p id="ship-d">{format!("From the next config version, everyone the experiment covered gets “{variant}”'s offers; the other variants' rules and the experiment leave the config. New sessions stop being assigned. You can undo it by restoring the previous config version in the flow editor.")}</p>
                    <div class="actions">
                        <button class="primary" on:click=move |_| ship("ship", Some(json!({ "variant": v2.clone() })), format!("Shipped “{}”: a new config version is live.", v2))>"Ship it"</button>
                        <button on:click=move |_| confirm_ship.set(None)>"Cancel"</button>
                    </div>
                </div>
            }
        })}
        {show(report, move |r| view! { <ReportBody r=r confirm_ship=confirm_ship/> }.into_any())}
    }
}

#[component]
fn ReportBody(r: Value, confirm_ship: RwSignal<Option<String>>) -> impl IntoView {
    let ctx = Ctx::get();
    let variants = rows(&r, "variants");
    let srm = f(&r, "srm_p_value");
    let srm_bad = r["srm_warning"] == true;
    let multi = f(&r, "multiple_exposure_rate").unwrap_or(0.0);
    let enough = r["enough_data"] == true;
    let progress = f(&r, "progress").unwrap_or(0.0);
    let suspicious = r["suspicious_uplift"] == true;
    let metric = s(&r, "metric");
    let verdict = s(&r, "verdict");
    let intervals: Vec<IntervalRow> = variants
        .iter()
        .filter(|v| v["holdout"] != true)
        .map(|v| {
            let ci = v["ci"]
                .as_array()
                .and_then(|c| Some((c.first()?.as_f64()?, c.get(1)?.as_f64()?)));
            (s(v, "key"), f(v, "uplift"), ci)
        })
        .collect();
    let best = intervals
        .iter()
        .filter(|r| r.2.is_some())
        .max_by(|a, b| a.1.unwrap_or(0.0).total_cmp(&b.1.unwrap_or(0.0)))
        .map(|(k, p, ci)| {
            let (lo, hi) = ci.unwrap_or((0.0, 0.0));
            let sure = if lo > 0.0 {
                "better than the control"
            } else if hi < 0.0 {
                "worse than the control"
            } else {
                "not surely different from the control"
            };
            format!(
                "{k}: {} relative to the control, 95% interval {} to {} — {sure}.",
                signed(p.unwrap_or(0.0)),
                signed(lo),
                signed(hi)
            )
        })
        .unwrap_or_else(|| "No variant has an interval yet.".into());
    let check = |ok: bool, text: String| {
        view! { <li class=if ok { "ok" } else { "warn" }><span class="sr-only">{if ok { "Passed: " } else { "Warning: " }}</span>{text}</li> }
    };
    view! {
        <section aria-labelledby="health-h">
            <h2 id="health-h">"Health checks"</h2>
            <ul class="checks">
                {check(!srm_bad, match srm {
                    Some(p) if srm_bad => format!("Sample ratio mismatch: the split differs from the weights (p = {p:.4}). Find the cause before trusting any result."),
                    Some(p) => format!("The split matches the weights (sample-ratio p = {p:.3})."),
                    None => "The sample-ratio check needs more customers.".into(),
                })}
                {check(multi <= 0.01, format!("{} of customers were seen in more than one variant.", pct(Some(multi))))}
                {check(enough, if enough { "Enough data for a decision.".to_string() } else { format!("{} of the sample needed so far.", pct(Some(progress))) })}
                {check(!suspicious, if suspicious { "The uplift is suspiciously large: check the setup.".to_string() } else { "No suspicious uplift.".to_string() })}
                {(i(&r, "pending_units") > 0).then(|| check(true, format!("{} customers still pending: their outcome is not known yet.", count(i(&r, "pending_units")))))}
            </ul>
        </section>
        <section aria-labelledby="verdict-h">
            <h2 id="verdict-h">"Verdict"</h2>
            <p class=format!("verdict {verdict}")><strong>{label(&verdict)}</strong>". "{s(&r, "verdict_reason")}</p>
        </section>
        <section aria-labelledby="variants-h">
            <h2 id="variants-h">{format!("Variants: {}", label(&metric).to_lowercase())}</h2>
            <Intervals rows=intervals caption=best/>
            <div class="scroll">
            <table>
                <thead><tr>
                    <th scope="col">"Variant"</th><th scope="col" class="num">"Customers"</th><th scope="col" class="num">"Conversions"</th>
                    <th scope="col" class="num">"Rate"</th><th scope="col" class="num">"Uplift"</th><th scope="col">"95% interval"</th>
                    <th scope="col" class="num">"Chance to win"</th><th scope="col" class="num">"Sequential p"</th><th scope="col">"Lift vs holdout"</th>
                    <th scope="col"><span class="sr-only">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    {variants.into_iter().map(|v| {
                        let key = s(&v, "key");
                        let holdout = v["holdout"] == true;
                        let ci = v["ci"].as_array().map(|c| format!("{} to {}", signed(c[0].as_f64().unwrap_or(0.0)), signed(c[1].as_f64().unwrap_or(0.0)))).unwrap_or_else(|| "–".into());
                        let lift = v["lift_vs_holdout"]["absolute"].as_f64().map(|a| format!("{:+.1} points", a * 100.0)).unwrap_or_else(|| "–".into());
                        let k2 = key.clone();
                        view! {
                            <tr>
                                <th scope="row">{key.clone()}{holdout.then_some(" (holdout)")}</th>
                                <td class="num">{count(i(&v, "units"))}</td>
                                <td class="num">{count(i(&v, "conversions"))}</td>
                                <td class="num">{pct(f(&v, "rate").or(f(&v, "mean")))}</td>
                                <td class="num">{f(&v, "uplift").filter(|_| v["ci"].is_array()).map(signed).unwrap_or_else(|| "–".into())}</td>
                                <td>{ci}</td>
                                <td class="num">{pct(f(&v, "chance_to_win"))}</td>
                                <td class="num">{f(&v, "sequential_p_value").map(|p| format!("{p:.3}")).unwrap_or_else(|| "–".into())}</td>
                                <td>{lift}</td>
                                <td>{(!holdout && ctx.can_edit()).then(|| view! {
                                    <button class="small" on:click=move |_| confirm_ship.set(Some(k2.clone()))>{format!("Ship {key}…")}</button>
                                })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            </div>
        </section>
    }
}
