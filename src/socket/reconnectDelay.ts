/**
 * Capped exponential backoff with jitter: attempt n (from 1) waits a time in
 * [0.5, 1] × min(cap, base × 2^(n−1)), so that pods' clients do not reconnect in lockstep.
 */
export function reconnectDelay(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1))
  return Math.round(ceiling * (0.5 + random() / 2))
}
