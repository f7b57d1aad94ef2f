/**
 * First-in, first-out queue over an array with a moving head: `shift` is O(1) and the consumed
 * prefix is dropped once it is most of the array, so a queue that is drained as fast as it is
 * filled stays small without a copy per item.
 */
export class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.head += 1;
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
