/**
 * Pushes that carry many stored messages (offline delivery, a group's backlog) are cut into
 * batches that stay well under the largest reliable message (256 KiB): at most 96 KiB by a
 * conservative size estimate (3 bytes per UTF-16 unit plus the JSON around it), and at most
 * 500 messages.
 */

const BATCH_BYTES = 96 * 1024;
const BATCH_MESSAGES = 500;

export function* pushBatches<T>(items: Iterable<T>, textOf: (item: T) => string): Generator<T[]> {
  let batch: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = textOf(item).length * 3 + 200;
    if (batch.length > 0 && (bytes + size > BATCH_BYTES || batch.length >= BATCH_MESSAGES)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(item);
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}
