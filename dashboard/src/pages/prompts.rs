//! Upgrade prompts: shown, clicked, upgraded and conversion per prompt, threshold, plan and variant.

use leptos::prelude::*;

use super::{Kpi, f, i, rows, s, show};
use crate::api;
use crate::nav::Ctx;
use crate::text::{count, label, pct};

/// The prompts' numbers for the range and mode.
#[component]
pub fn Prompts() -> impl IntoView {
    let ctx = Ctx::get();
    let load = api::fetch(move || {
        ctx.version.get();
        format!("{}?{}", ctx.admin("/prompts/stats"), ctx.range_query())
    });
    view! {
        <h1>"Prompts"</h1>
        {show(load, |v| {
            let t = v["totals"].clone();
            view! {
                <dl class="kpis">
                    <Kpi name="Impressions" value=count(i(&t, "shown")) formula="prompts rendered"/>
                    <Kpi name="Clicks" value=count(i(&t, "clicked")) formula="main action taken"/>
                    <Kpi name="Dismissals" value=count(i(&t, "dismissed")) formula="closed or snoozed"/>
                    <Kpi name="Upgrades" value=count(i(&t, "upgraded")) formula="credited to the latest impression within 30 days before"/>
                    <Kpi name="Conversion" value=pct(f(&t, "conversion")) formula="upgraded ÷ shown"/>
                </dl>
                {["prompt", "threshold", "trigger", "plan", "variant"].into_iter().map(|dim| {
                    let list = rows(&v["breakdowns"], dim);
                    let id = format!("pr-{dim}");
                let id2 = id.clone();
                    view! {
                        <section aria-labelledby=id2>
                            <h2 id=id>{format!("By {}", label(dim).to_lowercase())}</h2>
                            {if list.is_empty() {
                                view! { <p class="muted">"No impressions in this range."</p> }.into_any()
                            } else {
                                view! {
                                    <div class="scroll"><table>
                                        <thead><tr>
                                            <th scope="col">{label(dim)}</th><th scope="col" class="num">"Shown"</th><th scope="col" class="num">"Clicked"</th>
                                            <th scope="col" class="num">"Dismissed"</th><th scope="col" class="num">"Trials"</th><th scope="col" class="num">"Upgraded"</th><th scope="col" class="num">"Conversion"</th>
                                        </tr></thead>
                                        <tbody>
                                            {list.into_iter().map(|r| view! {
                                                <tr>
                                                    <th scope="row">{s(&r, "key")}</th>
                                                    <td class="num">{count(i(&r, "shown"))}</td>
                                                    <td class="num">{count(i(&r, "clicked"))}</td>
                                                    <td class="num">{count(i(&r, "dismissed"))}</td>
                                                    <td class="num">{count(i(&r, "trials"))}</td>
                                                    <td class="num">{count(i(&r, "upgraded"))}</td>
                                                    <td class="num">{pct(f(&r, "conversion"))}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table></div>
                                }.into_any()
                            }}
                        </section>
                    }
                }).collect_view()}
            }.into_any()
        })}
    }
}
