import { connect } from "node:net";

/** Whether something accepts a TCP connection on host:port within `timeoutMs`. */
export function accepts(host: string, port: number, timeoutMs = 200): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Polls `check` every `pollMs` until it holds; throws `timed out waiting for <what>` after `ms`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 15_000,
  pollMs = 50,
): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}
