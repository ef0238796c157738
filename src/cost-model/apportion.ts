/**
 * Splits an integer `total` among keys in proportion to their exact (fractional) amounts, so the parts are integers
 * that sum to `total` exactly (the largest-remainder method): each key gets the floor of its amount, and the units
 * left over go one each to the keys with the largest fractional parts, ties broken by key so the result is
 * deterministic. No part is ever more than its amount rounded up.
 *
 * `exact` should already sum to `total` (up to floating-point error); when it does not, the difference is spread the
 * same way, so the sum is still exact. Keys with a zero part are left out.
 */
export function apportion(exact: ReadonlyMap<string, number>, total: number): Map<string, number> {
  const entries = [...exact.entries()]
    .map(([key, amount]) => {
      const clean = Number.isFinite(amount) && amount > 0 ? amount : 0;
      const floor = Math.floor(clean);
      return { key, part: floor, fraction: clean - floor };
    })
    .sort((a, b) => b.fraction - a.fraction || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  let left = total - entries.reduce((sum, e) => sum + e.part, 0);
  if (entries.length > 0) {
    // Normally 0 <= left < entries.length; the loops also absorb a larger floating-point drift either way.
    for (let i = 0; left > 0; i = (i + 1) % entries.length, left--) entries[i]!.part += 1;
    for (
      let i = entries.length - 1;
      left < 0 && entries.some((e) => e.part > 0);
      i = (i - 1 + entries.length) % entries.length
    ) {
      if (entries[i]!.part > 0) {
        entries[i]!.part -= 1;
        left++;
      }
    }
  }
  const parts = new Map<string, number>();
  for (const e of [...entries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    if (e.part !== 0) parts.set(e.key, e.part);
  }
  return parts;
}
