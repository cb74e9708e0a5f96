//! Compliance: the per-profile evidence that cancelling stayed easy, and the audit export.

use leptos::prelude::*;

use super::{f, i, rows, s, show};
use crate::api;
use crate::nav::Ctx;
use crate::text::{count, label, pct};

/// The evidence summary and links to the full audit record.
#[component]
pub fn Compliance() -> impl IntoView {
    let ctx = Ctx::get();
    let load = api::fetch(move || {
        ctx.version.get();
        format!("{}?{}", ctx.admin("/evidence"), ctx.range_query())
    });
    let export = move |format: &str| {
        format!(
            "{}?{}&format={format}",
            ctx.admin("/audit"),
            ctx.range_query()
        )
    };
    view! {
        <h1>"Compliance"</h1>
        <p>"For each policy profile: how many steps came before a cancellation, whether the cancel control was visible at every one of them, and how many offers a session saw against the profile's limit. The audit export replays every session's recorded steps through the same rules the widget runs."</p>
        <p class="actions">
            <a class="button" href=move || export("csv") download="holdfast-audit.csv">"Download the audit record (CSV)"</a>
            <a class="button" href=move || export("jsonl") download="holdfast-audit.jsonl">"Download the audit record (JSON lines)"</a>
        </p>
        {show(load, |v| {
            let list = rows(&v, "profiles");
            if list.is_empty() {
                return view! { <p class="muted">"No sessions in this range."</p> }.into_any();
            }
            view! {
                <div class="scroll"><table>
                    <thead><tr>
                        <th scope="col">"Profile"</th><th scope="col" class="num">"Sessions"</th><th scope="col" class="num">"Cancellations"</th>
                        <th scope="col" class="num">"Cancel control visible"</th><th scope="col" class="num">"Median clicks to cancel"</th>
                        <th scope="col" class="num">"Median seconds to cancel"</th><th scope="col" class="num">"Offers per session"</th>
                        <th scope="col" class="num">"Offer limit"</th><th scope="col" class="num">"Sessions over the limit"</th>
                    </tr></thead>
                    <tbody>
                        {list.into_iter().map(|p| {
                            let over = i(&p, "sessions_over_limit");
                            view! {
                                <tr>
                                    <th scope="row">{label(&s(&p, "profile"))}</th>
                                    <td class="num">{count(i(&p, "sessions"))}</td>
                                    <td class="num">{count(i(&p, "cancellations"))}</td>
                                    <td class="num">{pct(f(&p, "cancel_control_visible_share"))}</td>
                                    <td class="num">{f(&p, "median_clicks_to_cancel").map(|c| format!("{c:.0}")).unwrap_or_else(|| "–".into())}</td>
                                    <td class="num">{f(&p, "median_seconds_to_cancel").map(|c| format!("{c:.0} s")).unwrap_or_else(|| "–".into())}</td>
                                    <td class="num">{f(&p, "offers_per_session").map(|c| format!("{c:.2}")).unwrap_or_else(|| "–".into())}</td>
                                    <td class="num">{s(&p, "offer_limit")}</td>
                                    <td class={if over > 0 { "num warn" } else { "num" }}>{count(over)}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table></div>
            }.into_any()
        })}
    }
}
