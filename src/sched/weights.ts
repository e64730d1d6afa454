// Weight arithmetic shared by wrr (ip_vs_wrr_gcd_weight, ip_vs_wrr_max_weight) and mh
// (ip_vs_mh_gcd_weight and its largest weight for the shift).

export function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** The gcd of the positive weights (0 when there are none) and the largest weight (0 if none). */
export function gcdAndMaxWeight(weights: ArrayLike<number>): { gcd: number; max: number } {
  let g = 0;
  let max = 0;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    if (w > 0) g = g > 0 ? gcd(w, g) : w;
    if (w > max) max = w;
  }
  return { gcd: g, max };
}
