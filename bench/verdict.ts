// A figure against its floor, as one line a reader can scan for FAIL. The floors are the
// Performance section's promises (../shared/DESIGN.md); the benchmark only measures and compares.

/** `label  1.31 ≥ 1.2  PASS`: `value` checked against `bound` (`≥` a floor, `≤` or `<` a ceiling). */
export function verdict(label: string, value: number, op: '≥' | '≤' | '<', bound: number, digits = 3): string {
  const pass = op === '≥' ? value >= bound : op === '≤' ? value <= bound : value < bound
  return `${label.padEnd(44)} ${value.toFixed(digits).padStart(8)} ${op} ${bound}  ${pass ? 'PASS' : 'FAIL'}`
}
