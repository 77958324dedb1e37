/** Most of `times` (ms) that fall in any window of `windowMs`: the check of an RPM/12 + 1 promise. */
export function busiestWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let start = 0, end = 0; start < sorted.length; start++) {
    while (end < sorted.length && sorted[end] < sorted[start] + windowMs) end++;
    most = Math.max(most, end - start);
  }
  return most;
}
