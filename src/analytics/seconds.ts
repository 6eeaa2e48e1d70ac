/** A duration in ms as the analytics events give it: seconds, to the ms. */
export function seconds(ms: number): number {
  return Math.round(ms) / 1000
}
