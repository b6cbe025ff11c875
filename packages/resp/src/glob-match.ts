/**
 * Redis glob matching (`SCAN … MATCH`, `PSUBSCRIBE`): `*` any run, `?` one character, `[abc]`,
 * `[^a]` and `[a-z]` classes, `\` escapes the next character. Iterative with backtracking on the
 * last `*`, so a hostile pattern cannot take exponential time.
 */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    if (p < pattern.length) {
      const char = pattern[p] as string;
      if (char === "*") {
        starP = p++;
        starT = t;
        continue;
      }
      if (char === "?") {
        p++;
        t++;
        continue;
      }
      if (char === "[") {
        const matched = matchClass(pattern, p, text[t] as string);
        if (matched.ok) {
          p = matched.next;
          t++;
          continue;
        }
      } else {
        let literal = char;
        let width = 1;
        if (char === "\\" && p + 1 < pattern.length) {
          literal = pattern[p + 1] as string;
          width = 2;
        }
        if (literal === text[t]) {
          p += width;
          t++;
          continue;
        }
      }
    }
    if (starP < 0) return false;
    p = starP + 1;
    t = ++starT;
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}

function matchClass(pattern: string, start: number, char: string) {
  let index = start + 1;
  const negate = pattern[index] === "^";
  if (negate) index++;
  let ok = false;
  while (index < pattern.length && pattern[index] !== "]") {
    let low = pattern[index] as string;
    if (low === "\\" && index + 1 < pattern.length) low = pattern[++index] as string;
    if (pattern[index + 1] === "-" && index + 2 < pattern.length && pattern[index + 2] !== "]") {
      let high = pattern[index + 2] as string;
      let step = 3;
      if (high === "\\" && index + 3 < pattern.length) {
        high = pattern[index + 3] as string;
        step = 4;
      }
      const [from, to] = low <= high ? [low, high] : [high, low];
      if (char >= from && char <= to) ok = true;
      index += step;
    } else {
      if (char === low) ok = true;
      index++;
    }
  }
  // An unclosed class matches like Redis: up to the end of the pattern.
  return { ok: negate ? !ok : ok, next: Math.min(index + 1, pattern.length) };
}
