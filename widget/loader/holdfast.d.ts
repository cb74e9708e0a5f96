// Types for the Holdfast JS API (window.Holdfast), as defined by holdfast.js and the widget.
// Copy this file into your project or reference it from the server: /holdfast.d.ts.

/**
 * A customer token: an HS256 JWT your backend signs with the app's signing secret (live mode).
 * Claims: sub (your customer id), aud (the app id), iat, exp (at most 7 days after iat), plan,
 * mrr_cents, created_at, and optionally currency, country, region, locale, seats_used,
 * seats_limit, discounted, segment, attributes, period_end.
 */
export type CustomerToken = string;

/** A customer as a plain object: test mode only (live mode needs a CustomerToken). */
export interface HoldfastCustomer {
  /** Your customer id: the unit of experiments, caps and stats. */
  id: string;
  /** Your plan id, as in the app config's plans. */
  plan: string;
  /** Monthly recurring revenue in the smallest currency unit. */
  mrr_cents: number;
  /** When the subscription started: Unix seconds or an ISO 8601 date. */
  created_at: number | string;
  seats_used?: number;
  seats_limit?: number;
  /** ISO 3166 billing country (selects the policy profile), e.g. "DE". */
  country?: string;
  /** Billing state or region, e.g. "CA", "MN". */
  region?: string;
  /** Preferred locale (BCP 47), e.g. "zh-CN". */
  locale?: string;
  /** ISO 4217 currency of mrr_cents, e.g. "EUR". */
  currency?: string;
  segment?: string;
  /** The subscription already has a discount (no second one is offered). */
  discounted?: boolean;
  attributes?: Record<string, string | number | boolean>;
}

export type PolicyProfile = "standard" | "california" | "minnesota" | "germany" | "france";

export interface HoldfastOffer {
  id: string;
  type: "discount" | "pause" | "downgrade" | "trial_extension" | "credit" | "support" | "call" | "roadmap" | "link";
  percent?: number;
  months?: number;
  days?: number;
  to_plan?: string;
  amount_cents?: number;
  url?: string;
  booking_url?: string;
}

export type CancelOutcome =
  | { outcome: "saved"; offer: HoldfastOffer }
  /** recorded: false when the server could not be reached yet (the widget keeps trying). */
  | { outcome: "cancelled"; effective_date?: string; recorded: boolean }
  | { outcome: "abandoned" };

export interface CancelOptions {
  customer: HoldfastCustomer | CustomerToken;
  /** Overrides the customer's and the browser's locale. */
  locale?: string;
  /** Overrides the profile resolved from the customer's place. */
  profile?: PolicyProfile;
  /** When the paid period ends (Unix seconds or ISO 8601): the honest "ends on" date. */
  period_end?: number | string;
  onOutcome?: (outcome: CancelOutcome) => void;
}

export type PromptResult =
  | {
      status: "shown";
      prompt: {
        id: "usage" | "usage_compare" | "usage_limit" | "gate" | "seats";
        kind: "banner" | "compare" | "limit_reached" | "gate_trial" | "seats_team";
        trigger: string;
        suggested_plan?: string;
      };
    }
  | { status: "suppressed"; reason: string };

export interface UsageOptions {
  customer: HoldfastCustomer | CustomerToken;
  /** Your metric name; "seats" reads used/limit from the customer and accepts invites. */
  metric: string;
  used?: number;
  limit?: number;
  unlimited?: boolean;
  invites?: number;
  /** When usage resets (Unix seconds): each threshold fires once per period. */
  period_end?: number;
  locale?: string;
  onUpgrade?: (plan: string | null) => void;
}

export interface GateOptions {
  customer: HoldfastCustomer | CustomerToken;
  /** The locked feature's name. */
  feature: string;
  locale?: string;
  onTrial?: (feature: string) => void;
  onUpgrade?: (plan: string | null) => void;
}

export interface HoldfastApi {
  cancel(options: CancelOptions): Promise<CancelOutcome>;
  usage(options: UsageOptions): Promise<PromptResult>;
  gate(options: GateOptions): Promise<PromptResult>;
  /** A fresh customer token (sign a new one before the last expires): queued events use it. */
  identify(token: CustomerToken): void;
}

declare global {
  interface Window {
    Holdfast: HoldfastApi;
  }
}
