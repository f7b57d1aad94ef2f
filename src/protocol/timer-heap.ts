/**
 * Binary min-heap of (time, id) wake-ups, for cores that keep one deadline per session. Entries
 * are refreshed lazily: the owner remembers the time of each id's live entry and skips entries
 * that no longer match when they come up, so a deadline that moved later costs one early
 * wake-up instead of a search, and a wake-up pops only what is due.
 */

export class TimerHeap {
  private readonly items: Array<{ at: number; id: number }> = [];

  peek(): { at: number; id: number } | undefined {
    return this.items[0];
  }

  push(at: number, id: number): void {
    const items = this.items;
    items.push({ at, id });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent] as { at: number; id: number };
      const c = items[i] as { at: number; id: number };
      if (p.at <= c.at) break;
      items[parent] = c;
      items[i] = p;
      i = parent;
    }
  }

  pop(): { at: number; id: number } | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < items.length && (items[l] as { at: number }).at < (items[m] as { at: number }).at) m = l;
      if (r < items.length && (items[r] as { at: number }).at < (items[m] as { at: number }).at) m = r;
      if (m === i) return top;
      const tmp = items[m] as { at: number; id: number };
      items[m] = items[i] as { at: number; id: number };
      items[i] = tmp;
      i = m;
    }
  }
}
