//! What a host page really pays: the bytes Chromium moved over the wire for Holdfast's requests,
//! from the real server, until the cancel flow's survey is painted (PerformanceResourceTiming's
//! `encodedBodySize`: compressed body bytes as received). Printed, and held to the goal of at
//! most 50 KB for loader, bundle and API answers together.

use holdfast_e2e::demo::open_flow;
use holdfast_e2e::{spawn_server, with_browser};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_the_cancel_flow_moves_at_most_50_kb_over_the_wire() -> anyhow::Result<()> {
    let server = spawn_server().await?;
    let url = server.url.clone();
    with_browser(move |client| async move {
        open_flow(&client, &url, "standard").await?;
        let entries = client
            .execute(
                "return performance.getEntriesByType('resource')
                    .filter(e => /holdfast|\\/v1\\//.test(e.name) && !/prompts/.test(e.name))
                    .map(e => [e.name.replace(location.origin, ''), e.encodedBodySize, e.decodedBodySize]);",
                vec![],
            )
            .await?;
        let entries = entries.as_array().cloned().unwrap_or_default();
        let mut wire = 0_u64;
        for e in &entries {
            let (name, encoded, decoded) = (e[0].as_str().unwrap_or_default(), e[1].as_u64().unwrap_or(0), e[2].as_u64().unwrap_or(0));
            println!("  {name}: {encoded} bytes over the wire ({decoded} decoded)");
            wire += encoded;
        }
        println!("cancel flow until the survey: {wire} bytes over the wire");
        let wasm = entries.iter().find(|e| e[0].as_str().is_some_and(|n| n.ends_with(".wasm")));
        let wasm = wasm.ok_or_else(|| anyhow::anyhow!("the bundle was fetched: {entries:?}"))?;
        anyhow::ensure!(
            wasm[1].as_u64() < wasm[2].as_u64(),
            "the bundle travels compressed: {wasm:?}"
        );
        anyhow::ensure!(wire <= 50_000, "{wire} bytes is over the 50 KB goal");
        Ok(())
    })
    .await
}

/// A host page that loads the loader and calls nothing: the loader is all it downloads (goal
/// 1.5 KB over the wire), and events an earlier page left in the outbox are sent by the loader
/// itself, without fetching any WebAssembly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_calls_nothing_downloads_the_loader_only_and_still_sends_the_outbox()
-> anyhow::Result<()> {
    let server = spawn_server().await?;
    let url = server.url.clone();
    with_browser(move |client| async move {
        // Any page of the server's origin (an origin the demo app allows) stands for the host.
        client.goto(&format!("{url}/healthz")).await?;
        client
            .execute(
                "localStorage.setItem('holdfast:outbox:app_demo', JSON.stringify([{ customer: { id: 'cus_left_behind', plan: 'pro', mrr_cents: 4900, created_at: 1700000000 }, event: { id: crypto.randomUUID(), type: 'flow_started', at: Date.now(), session_id: crypto.randomUUID() } }]));
                 const s = document.createElement('script');
                 s.async = true; s.src = '/holdfast.js'; s.setAttribute('data-app', 'app_demo');
                 document.head.append(s);",
                vec![],
            )
            .await?;
        // The loader sends the outbox at idle time and clears what the server took.
        let mut left = serde_json::Value::Null;
        for _ in 0..50 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            left = client
                .execute("return localStorage.getItem('holdfast:outbox:app_demo');", vec![])
                .await?;
            if left == serde_json::json!("[]") {
                break;
            }
        }
        anyhow::ensure!(left == serde_json::json!("[]"), "the outbox was sent and emptied: {left}");
        // Settle: anything the page would fetch on idle has been fetched by now.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let entries = client
            .execute(
                "return performance.getEntriesByType('resource')
                    .filter(e => /holdfast|\\/v1\\//.test(e.name))
                    .map(e => [e.name.replace(location.origin, ''), e.encodedBodySize, e.decodedBodySize]);",
                vec![],
            )
            .await?;
        let entries = entries.as_array().cloned().unwrap_or_default();
        let mut downloaded = 0_u64;
        for e in &entries {
            let (name, encoded) = (e[0].as_str().unwrap_or_default(), e[1].as_u64().unwrap_or(0));
            println!("  {name}: {encoded} bytes over the wire");
            if !name.starts_with("/v1/") {
                downloaded += encoded;
            }
            anyhow::ensure!(!name.ends_with(".wasm"), "no WebAssembly for a page that calls nothing: {name}");
        }
        println!("a page that calls nothing: {downloaded} bytes of Holdfast over the wire");
        anyhow::ensure!(
            entries.iter().any(|e| e[0].as_str().is_some_and(|n| n.ends_with("/events"))),
            "the loader posted the outbox: {entries:?}"
        );
        anyhow::ensure!(downloaded <= 1_500, "{downloaded} bytes is over the 1.5 KB goal");
        Ok(())
    })
    .await
}

/// A host page that reports usage at 30% of a limit: nothing shows, and the loader knows it
/// without asking (below half of a limit, under every threshold), so the page moves the loader
/// alone; a first gate hit, which the server must plan (it records the hit), adds one small
/// answer. Goal: at most 3.5 KB over the wire, and never the prompt bundle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_usage_report_that_shows_nothing_moves_at_most_3_5_kb() -> anyhow::Result<()> {
    let server = spawn_server().await?;
    let url = server.url.clone();
    with_browser(move |client| async move {
        client.goto(&format!("{url}/healthz")).await?;
        // The README's two-line stub, a call queued before the loader arrives, then the loader.
        let answer = client
            .execute_async(
                "const done = arguments[0];
                 window.Holdfast = window.Holdfast || { q: [] };
                 ['cancel', 'usage', 'gate'].forEach(function (m) { window.Holdfast[m] = window.Holdfast[m] || function (o) { return new Promise(function (a, b) { window.Holdfast.q.push([m, o, a, b]); }); }; });
                 const customer = { id: 'cus_wire_usage', plan: 'pro', mrr_cents: 4900, created_at: 1700000000 };
                 const usage = Holdfast.usage({ customer, metric: 'projects', used: 3, limit: 10, period_end: 4000000000, onUpgrade() {} });
                 const s = document.createElement('script');
                 s.async = true; s.src = '/holdfast.js'; s.setAttribute('data-app', 'app_demo');
                 document.head.append(s);
                 usage.then(u => Holdfast.gate({ customer, feature: 'sso' }).then(g => done(JSON.stringify([u, g]))), e => done('error: ' + e.message));",
                vec![],
            )
            .await?;
        let answer: serde_json::Value = serde_json::from_str(answer.as_str().unwrap_or_default())?;
        assert_eq!(answer[0], serde_json::json!({ "status": "suppressed", "reason": "below_threshold" }));
        assert_eq!(answer[1], serde_json::json!({ "status": "suppressed", "reason": "not_yet" }));
        let entries = client
            .execute(
                "return performance.getEntriesByType('resource')
                    .filter(e => /holdfast|\\/v1\\//.test(e.name))
                    .map(e => [e.name.replace(location.origin, ''), e.encodedBodySize, e.decodedBodySize]);",
                vec![],
            )
            .await?;
        let entries = entries.as_array().cloned().unwrap_or_default();
        let (mut usage_page, mut with_gate) = (0_u64, 0_u64);
        for e in &entries {
            let (name, encoded) = (e[0].as_str().unwrap_or_default(), e[1].as_u64().unwrap_or(0));
            println!("  {name}: {encoded} bytes over the wire");
            anyhow::ensure!(!name.contains("prompts-") && !name.ends_with(".wasm"), "no bundle for a prompt that does not show: {name}");
            if !name.contains("/prompts/plan") {
                usage_page += encoded;
            }
            with_gate += encoded;
        }
        anyhow::ensure!(
            entries.iter().filter(|e| e[0].as_str().is_some_and(|n| n.ends_with("/prompts/plan"))).count() == 1,
            "the usage report asked nothing, the gate hit one plan: {entries:?}"
        );
        println!("a usage report at 30%: {usage_page} bytes over the wire; with a first gate hit: {with_gate}");
        anyhow::ensure!(usage_page <= 3_500, "{usage_page} bytes is over the 3.5 KB goal");
        anyhow::ensure!(with_gate <= 3_500, "{with_gate} bytes is over the 3.5 KB goal");
        Ok(())
    })
    .await
}

/// Caching: a bundle's name carries a hash of its content, so it is sent immutable for a year; the
/// loader keeps one URL, cached five minutes and revalidated by its ETag (a 304, no body).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_are_immutable_and_the_loader_revalidates() -> anyhow::Result<()> {
    let server = spawn_server().await?;
    let http = reqwest::Client::new();
    let loader = http
        .get(format!("{}/holdfast.js", server.url))
        .send()
        .await?;
    assert_eq!(loader.headers()["cache-control"], "public, max-age=300");
    let etag = loader.headers()["etag"].to_str()?.to_string();
    let body = loader.text().await?;
    let name = body
        .split('"')
        .find(|s| s.starts_with("holdfast-widget-"))
        .ok_or_else(|| anyhow::anyhow!("the loader names the hashed bundle"))?
        .to_string();
    let again = http
        .get(format!("{}/holdfast.js", server.url))
        .header("if-none-match", &etag)
        .send()
        .await?;
    assert_eq!(again.status(), 304);
    assert_eq!(again.text().await?, "", "revalidation moves no body");
    for file in [format!("{name}.js"), format!("{name}_bg.wasm")] {
        let r = http.get(format!("{}/{file}", server.url)).send().await?;
        assert_eq!(r.status(), 200, "{file}");
        assert_eq!(
            r.headers()["cache-control"],
            "public, max-age=31536000, immutable",
            "{file}"
        );
    }
    let page = http.get(&server.url).send().await?;
    assert_eq!(
        page.headers()["cache-control"],
        "no-cache",
        "the demo page is revalidated"
    );
    Ok(())
}
