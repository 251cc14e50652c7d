import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  FragmentReassembler,
  LITTLE_ENDIAN_DREP,
  PFC_FIRST_FRAG,
  PFC_LAST_FRAG,
  PFC_WHOLE,
  PduFramer,
  decodePdu,
  encodeFault,
  encodePdu,
  encodeRequest,
  isDecodeIssue,
  reassembleFragments,
  splitIntoFragments,
  type DecodeIssue,
  type Pdu,
  type ResponsePdu,
} from "../../src/protocols/dcerpc/index.js";

function response(callId: number, stub: Uint8Array, pfcFlags = PFC_WHOLE): ResponsePdu {
  return {
    type: "response",
    callId,
    pfcFlags,
    drep: LITTLE_ENDIAN_DREP,
    rpcVersMinor: 0,
    authVerifier: null,
    allocHint: stub.length,
    contextId: 0,
    cancelCount: 0,
    stub,
  };
}

const patterned = (length: number): Uint8Array => Uint8Array.from({ length }, (_, i) => i * 7);

function issueOf(value: unknown): DecodeIssue {
  if (!isDecodeIssue(value))
    throw new Error(`expected a DecodeIssue, got ${JSON.stringify(value)}`);
  return value;
}

describe("splitIntoFragments", () => {
  it("cuts a stub at multiples of 8 with first/last flags and remaining alloc_hint", () => {
    // 4280 is Samba's max_xmit_frag, the size of its first ept_lookup fragment.
    const fragments = splitIntoFragments(response(9, patterned(10000)), 4280);
    expect(fragments.map((f) => f.stub.length)).toEqual([4256, 4256, 1488]);
    expect(fragments.map((f) => f.pfcFlags)).toEqual([PFC_FIRST_FRAG, 0, PFC_LAST_FRAG]);
    expect(fragments.map((f) => f.allocHint)).toEqual([10000, 5744, 1488]);
    for (const fragment of fragments) expect(encodePdu(fragment).length).toBeLessThanOrEqual(4280);
  });

  it("keeps a small stub in one fragment, and refuses impossible sizes", () => {
    expect(splitIntoFragments(response(1, patterned(10)), 4280)).toHaveLength(1);
    expect(splitIntoFragments(response(1, new Uint8Array(0)), 4280)[0]?.pfcFlags).toBe(PFC_WHOLE);
    expect(() => splitIntoFragments(response(1, patterned(10)), 30)).toThrow(RangeError);
  });
});

describe("FragmentReassembler (C706 §12.6.3.1 PFC_FIRST_FRAG / PFC_LAST_FRAG)", () => {
  it("joins in-order fragments into the whole stub", () => {
    const stub = patterned(10000);
    const call = reassembleFragments(splitIntoFragments(response(9, stub), 1024));
    if (isDecodeIssue(call)) throw new Error(call.message);
    expect(call.stub).toEqual(stub);
    expect(call.fragmentCount).toBe(10);
    expect(call.first.callId).toBe(9);
  });

  it("reports a missing first fragment", () => {
    const fragments = splitIntoFragments(response(9, patterned(3000)), 1024);
    const issue = issueOf(reassembleFragments(fragments.slice(1)));
    expect(issue).toMatchObject({ what: "reassembly" });
    expect(issue.message).toMatch(/without PFC_FIRST_FRAG/);
  });

  it("reports a call_id change mid-call", () => {
    const [first, second] = splitIntoFragments(response(9, patterned(3000)), 1024);
    const reassembler = new FragmentReassembler();
    expect(reassembler.push(first!)).toEqual({ done: false });
    const issue = issueOf(reassembler.push({ ...second!, callId: 10 }));
    expect(issue.message).toMatch(/call_id 10 mid-call/);
    expect(reassembler.inProgress).toBe(false);
  });

  it("reports a wrong PDU type mid-call", () => {
    const [first, second] = splitIntoFragments(response(9, patterned(3000)), 1024);
    const reassembler = new FragmentReassembler();
    reassembler.push(first!);
    const request: Pdu = { ...second!, type: "request", opnum: 2, object: null };
    expect(issueOf(reassembler.push(request)).message).toMatch(
      /request fragment in a response call/,
    );
    reassembler.push(first!);
    const fault = decodePdu(encodeFault({ callId: 9, contextId: 0, status: 5 }));
    expect(issueOf(reassembler.push(fault as Pdu)).message).toMatch(/fault PDU/);
  });

  it("reports a second first fragment and a context change", () => {
    const [first, second] = splitIntoFragments(response(9, patterned(3000)), 1024);
    const reassembler = new FragmentReassembler();
    reassembler.push(first!);
    expect(issueOf(reassembler.push(first!)).message).toMatch(/second PFC_FIRST_FRAG/);
    reassembler.push(first!);
    expect(issueOf(reassembler.push({ ...second!, contextId: 1 })).message).toMatch(/p_cont_id/);
  });

  it("enforces the stub-byte and fragment caps", () => {
    const fragments = splitIntoFragments(response(9, patterned(5000)), 1024);
    const bytesIssue = issueOf(reassembleFragments(fragments, { maxStubBytes: 4096 }));
    expect(bytesIssue.message).toMatch(/stub exceeds 4096 bytes/);
    const countIssue = issueOf(reassembleFragments(fragments, { maxFragments: 3 }));
    expect(countIssue.message).toMatch(/exceeds 3 fragments/);
  });

  it("rejects PDUs after the last fragment and calls with no last fragment", () => {
    const fragments = splitIntoFragments(response(9, patterned(3000)), 1024);
    expect(issueOf(reassembleFragments([...fragments, fragments[0]!])).message).toMatch(/after/);
    expect(issueOf(reassembleFragments(fragments.slice(0, 2))).message).toMatch(/no fragment/);
  });

  it("reassembles whatever the fragment size", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 5000 }),
        fc.integer({ min: 40, max: 6000 }),
        (stub, maxFrag) => {
          const call = reassembleFragments(splitIntoFragments(response(3, stub), maxFrag));
          expect(isDecodeIssue(call) ? call : call.stub).toEqual(stub);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("PduFramer (frag_length framing of a TCP stream)", () => {
  it("splits a stream into PDUs however the bytes arrive", () => {
    const pdus = [
      ...splitIntoFragments(response(9, patterned(9000)), 4280),
      response(10, patterned(5)),
    ];
    const stream = Uint8Array.from(pdus.flatMap((pdu) => [...encodePdu(pdu)]));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1 }), (cuts) => {
        const framer = new PduFramer();
        const out: Uint8Array[] = [];
        let at = 0;
        for (let i = 0; at < stream.length; i++) {
          const size = cuts[i % cuts.length] ?? 1;
          const result = framer.push(stream.subarray(at, at + size));
          if (result.issue !== null) throw new Error(result.issue.message);
          out.push(...result.pdus);
          at += size;
          expect(framer.buffered).toBeLessThanOrEqual(4280);
        }
        expect(out.map((bytes) => decodePdu(bytes))).toEqual(pdus);
        expect(framer.buffered).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  it("holds an incomplete PDU without emitting it", () => {
    const bytes = encodeRequest({ callId: 1, contextId: 0, opnum: 2, stub: patterned(40) });
    const framer = new PduFramer();
    expect(framer.push(bytes.subarray(0, 15))).toEqual({ pdus: [], issue: null });
    expect(framer.buffered).toBe(15);
    expect(framer.push(bytes.subarray(15, 30))).toEqual({ pdus: [], issue: null });
    expect(framer.push(bytes.subarray(30))).toEqual({ pdus: [bytes], issue: null });
  });

  it("refuses frag_length below 16 and above the cap, then stays failed", () => {
    const tiny = encodeRequest({ callId: 1, contextId: 0, opnum: 0, stub: new Uint8Array() });
    new DataView(tiny.buffer).setUint16(8, 15, true);
    expect(issueOf(new PduFramer().push(tiny).issue).message).toMatch(/frag_length 15/);

    const framer = new PduFramer({ maxFragLength: 1024 });
    const ok = encodeRequest({ callId: 1, contextId: 0, opnum: 0, stub: patterned(8) });
    const big = encodeRequest({ callId: 2, contextId: 0, opnum: 0, stub: patterned(2000) });
    const result = framer.push(Uint8Array.from([...ok, ...big]));
    // The PDU framed before the oversized one is still delivered.
    expect(result.pdus).toEqual([ok]);
    const issue = issueOf(result.issue);
    expect(issue.message).toMatch(/exceeds the 1024-byte cap/);
    // Offsets are stream offsets: the bad frag_length is 8 bytes into the second PDU.
    expect(issue.offset).toBe(ok.length + 8);
    expect(framer.push(ok)).toEqual({ pdus: [], issue });
    expect(framer.buffered).toBe(0);
  });

  it("fails at once on a stream that is not DCE/RPC", () => {
    const framer = new PduFramer();
    const http = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(issueOf(framer.push(http).issue).what).toBe("header");
  });

  it("an endless stream of non-final fragments ends in a DecodeIssue with bounded memory", () => {
    const maxFragLength = 1024;
    const maxFragments = 64;
    const framer = new PduFramer({ maxFragLength });
    const reassembler = new FragmentReassembler({ maxFragments, maxStubBytes: 1 << 20 });
    const middle = encodePdu({ ...response(7, patterned(1000)), pfcFlags: 0 });
    const first = encodePdu({ ...response(7, patterned(1000)), pfcFlags: PFC_FIRST_FRAG });
    let outcome: DecodeIssue | null = null;
    let pushes = 0;
    // A hostile peer never sets PFC_LAST_FRAG; feed it far longer than the cap allows.
    for (let i = 0; i < 10_000 && outcome === null; i++) {
      const chunk = i === 0 ? first : middle;
      // Deliver each PDU in odd-sized pieces to exercise partial buffering too.
      for (let at = 0; at < chunk.length && outcome === null; at += 333) {
        const framed = framer.push(chunk.subarray(at, at + 333));
        expect(framer.buffered).toBeLessThanOrEqual(maxFragLength);
        if (framed.issue !== null) {
          outcome = framed.issue;
          break;
        }
        for (const bytes of framed.pdus) {
          const pdu = decodePdu(bytes);
          if (isDecodeIssue(pdu)) throw new Error(pdu.message);
          pushes++;
          const step = reassembler.push(pdu);
          if (isDecodeIssue(step)) outcome = step;
          else expect(step.done).toBe(false);
        }
      }
    }
    expect(outcome?.message).toMatch(/exceeds 64 fragments/);
    expect(pushes).toBe(maxFragments + 1);
  });

  it("an endless stream of garbage after valid PDUs is refused without growth", () => {
    const framer = new PduFramer();
    const valid = encodeRequest({ callId: 1, contextId: 0, opnum: 0, stub: patterned(16) });
    expect(framer.push(valid).pdus).toHaveLength(1);
    const garbage = new Uint8Array(64 * 1024).fill(0x41);
    const issue = issueOf(framer.push(garbage).issue);
    expect(issue.offset).toBe(valid.length);
    expect(framer.buffered).toBe(0);
  });

  it("never throws on random chunks", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 400 }), { maxLength: 10 }), (chunks) => {
        const framer = new PduFramer({ maxFragLength: 2048 });
        for (const chunk of chunks) {
          const result = framer.push(chunk);
          expect(result.pdus.every((pdu) => pdu.length >= 16 && pdu.length <= 2048)).toBe(true);
          expect(framer.buffered).toBeLessThanOrEqual(2048);
        }
      }),
      { numRuns: 500 },
    );
  });
});
