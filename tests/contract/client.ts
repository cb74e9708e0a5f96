// A typed client generated from the running server's /openapi.json (openapi-typescript), used
// as a host's backend would: it records a cancel session, then reads the stats and the evidence
// summary. `scripts/contract` generates `holdfast-api.d.ts` next to a copy of this file, compiles
// both with `tsc --strict` (so a field the document misnames breaks the build) and runs it.

import type { paths } from "./holdfast-api";

declare const process: { argv: string[]; exit(code: number): never };

type Batch = paths["/v1/apps/{app_id}/events"]["post"]["requestBody"]["content"]["application/json"];
type Ingested = paths["/v1/apps/{app_id}/events"]["post"]["responses"][200]["content"]["application/json"];
type Stats = paths["/v1/admin/apps/{app_id}/stats"]["get"]["responses"][200]["content"]["application/json"];
type Evidence = paths["/v1/admin/apps/{app_id}/evidence"]["get"]["responses"][200]["content"]["application/json"];
type Customer = Exclude<Batch["customer"], string>;

const [base, key, origin] = process.argv.slice(2);
const app = "app_demo";

function check(ok: boolean, what: string): void {
  if (!ok) {
    console.error(`typed client: ${what}`);
    process.exit(1);
  }
}

async function call<T>(path: string, init: RequestInit): Promise<T> {
  const r = await fetch(base + path, init);
  const text = await r.text();
  check(r.ok, `${init.method ?? "GET"} ${path} answered ${r.status}: ${text}`);
  return JSON.parse(text) as T;
}

async function main(): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const customer: Customer = { id: "cus_typed_client", plan: "pro", mrr_cents: 4900, created_at: now - 400 * 86400 };
  const session = crypto.randomUUID();
  const batch: Batch = {
    customer,
    events: [
      { id: crypto.randomUUID(), type: "flow_started", at: Date.now(), session_id: session, profile: "standard" },
      { id: crypto.randomUUID(), type: "reason_selected", at: Date.now() + 1000, session_id: session, reason: "too_expensive" },
    ],
  };
  const ingested = await call<Ingested>(`/v1/apps/${app}/events`, {
    method: "POST",
    headers: { "content-type": "application/json", origin },
    body: JSON.stringify(batch),
  });
  check(ingested.accepted === 2, `accepted ${ingested.accepted} of 2 events`);

  const admin = { authorization: `Bearer ${key}` };
  const stats = await call<Stats>(`/v1/admin/apps/${app}/stats?from=${now - 86400}`, { headers: admin });
  check(stats.mode === "test" && stats.totals.sessions >= 1, `stats count the session: ${JSON.stringify(stats.totals)}`);
  const reasons = stats.breakdowns["reason"] ?? [];
  check(reasons.some((row) => row.key === "too_expensive"), "the reason breakdown has the survey answer");

  const evidence = await call<Evidence>(`/v1/admin/apps/${app}/evidence?from=${now - 86400}`, { headers: admin });
  const standard = evidence.profiles.find((p) => p.profile === "standard");
  check(standard !== undefined && standard.sessions >= 1, "the evidence summary has the standard profile's session");
  console.log(`typed client: ${stats.totals.sessions} session(s) in stats, evidence for ${evidence.profiles.length} profile(s)`);
}

main().catch((e: unknown) => check(false, String(e)));
