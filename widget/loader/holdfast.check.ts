// Compile-only check of holdfast.d.ts (scripts/test runs tsc on it): the API as a host uses it.
import type { CancelOutcome, HoldfastApi, PromptResult } from "./holdfast";

declare const Holdfast: HoldfastApi;
const customer = { id: "cus_1", plan: "pro", mrr_cents: 4900, created_at: "2026-01-31" };

export async function hostCode(): Promise<void> {
  const o: CancelOutcome = await Holdfast.cancel({ customer, profile: "germany", period_end: 1797206400 });
  if (o.outcome === "saved") {
    const percent: number | undefined = o.offer.percent;
    void percent;
  }
  const p: PromptResult = await Holdfast.usage({ customer, metric: "projects", used: 9, limit: 10 });
  if (p.status === "shown") {
    const kind: "banner" | "compare" | "limit_reached" | "gate_trial" | "seats_team" = p.prompt.kind;
    void kind;
  }
  await Holdfast.gate({ customer, feature: "sso", onTrial: (f) => void f });
  // Live mode: the token the host's backend signed.
  const token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjdXNfMSJ9.sig";
  await Holdfast.cancel({ customer: token });
  Holdfast.identify(token);
  // @ts-expect-error identify takes the token string
  Holdfast.identify({ id: "cus_1" });
  // @ts-expect-error mrr_cents is a number of cents
  await Holdfast.cancel({ customer: { ...customer, mrr_cents: "49" } });
  // @ts-expect-error an unknown policy profile
  await Holdfast.cancel({ customer, profile: "mars" });
}
