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
