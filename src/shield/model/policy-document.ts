/**
 * A policy as plain data (the `policy:` part of a plan file) and back. Writing then reading gives
 * the same policy; reading validates every field with zod and then rebuilds the tree with the
 * factories of policy.ts, so a hand-edited plan passes the same checks as a generated one.
 */
import { z } from "zod";
import { formatRange } from "../../targets/index.js";
import { rangesOf, type Prefix } from "./address-set.js";
import { formatPortRange } from "./port-set.js";
import {
  addressSet,
  createPolicy,
  DIRECTIONS,
  SERVICE_PROTOCOLS,
  service,
  STANCES,
  term,
  TERM_ACTIONS,
  zone,
  type Endpoint,
  type PolicyNode,
} from "./policy.js";

const Name = z.string().min(1);
const Comment = z.string().optional();
const EndpointSchema = z.union([z.literal("any"), z.array(Name).min(1)]);

export const PolicyDocumentSchema = z.strictObject({
  name: Name,
  comment: Comment,
  stateful: z.boolean().default(true),
  stance: z
    .strictObject({
      in: z.enum(STANCES).default("deny"),
      out: z.enum(STANCES).default("deny"),
      forward: z.enum(STANCES).default("deny"),
    })
    .default({ in: "deny", out: "deny", forward: "deny" }),
  zones: z
    .array(z.strictObject({ name: Name, addresses: z.array(z.string()).min(1), comment: Comment }))
    .default([]),
  addressSets: z
    .array(z.strictObject({ name: Name, addresses: z.array(z.string()).min(1), comment: Comment }))
    .default([]),
  services: z
    .array(
      z.strictObject({
        name: Name,
        proto: z.enum(SERVICE_PROTOCOLS),
        ports: z.array(z.union([z.number().int(), z.string()])).default([]),
        comment: Comment,
      }),
    )
    .default([]),
  terms: z
    .array(
      z.strictObject({
        name: Name,
        action: z.enum(TERM_ACTIONS),
        direction: z.enum(DIRECTIONS),
        from: EndpointSchema.default("any"),
        to: EndpointSchema.default("any"),
        services: EndpointSchema.default("any"),
        log: z.boolean().default(false),
        comment: Comment,
      }),
    )
    .default([]),
});
export type PolicyDocument = z.input<typeof PolicyDocumentSchema>;

const withComment = (comment: string | undefined) => (comment === undefined ? {} : { comment });
const endpointDoc = (endpoint: Endpoint): "any" | string[] =>
  endpoint === "any" ? "any" : [...endpoint];

/**
 * Addresses as the shortest exact text: merged ranges, each an address, a CIDR block or a dash
 * range (the Internet zone is ten ranges rather than a hundred prefixes).
 */
function addressTexts(prefixes: readonly Prefix[]): string[] {
  return rangesOf(prefixes).map(formatRange);
}

/** Plain data in a fixed key order (the plan file is diffed and hashed). */
export function policyToDocument(policy: PolicyNode): PolicyDocument {
  return {
    name: policy.name,
    ...withComment(policy.comment),
    stateful: policy.stateful,
    stance: { ...policy.stance },
    zones: policy.zones.map((z) => ({
      name: z.name,
      addresses: addressTexts(z.addresses),
      ...withComment(z.comment),
    })),
    addressSets: policy.addressSets.map((s) => ({
      name: s.name,
      addresses: addressTexts(s.addresses),
      ...withComment(s.comment),
    })),
    services: policy.services.map((s) => ({
      name: s.name,
      proto: s.proto,
      ports: s.ports.map((r) => (r.first === r.last ? r.first : formatPortRange(r))),
      ...withComment(s.comment),
    })),
    terms: policy.terms.map((t) => ({
      name: t.name,
      action: t.action,
      direction: t.direction,
      from: endpointDoc(t.from),
      to: endpointDoc(t.to),
      services: endpointDoc(t.services),
      log: t.log,
      ...withComment(t.comment),
    })),
  };
}

/** Builds the policy of validated data; model errors (ShieldPolicyError) pass through. */
export function policyFromDocument(doc: z.output<typeof PolicyDocumentSchema>): PolicyNode {
  return createPolicy({
    name: doc.name,
    ...withComment(doc.comment),
    stateful: doc.stateful,
    stance: doc.stance,
    zones: doc.zones.map((z) => zone(z.name, z.addresses, z.comment)),
    addressSets: doc.addressSets.map((s) => addressSet(s.name, s.addresses, s.comment)),
    services: doc.services.map((s) => service(s.name, s.proto, s.ports, s.comment)),
    terms: doc.terms.map((t) =>
      term({
        name: t.name,
        action: t.action,
        direction: t.direction,
        from: t.from,
        to: t.to,
        services: t.services,
        log: t.log,
        ...withComment(t.comment),
      }),
    ),
  });
}
