// What a run was trained on, recorded in config.json so that `--resume` can tell when the data
// file changed under it: the ordered pair ids of the training and held-out splits, and the sha256
// of the file's bytes. An edited or removed row would otherwise train on silently (the data order
// and the reference cache follow the new rows), and the resume would not be the run it continues.
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';

export interface DataIdentity {
  /** sha256 over the training pair ids, then the held-out ones, in order. */
  pairIds: string;
  /** sha256 of the data file's bytes (undefined when the data is not one file). */
  file?: string;
  trainPairs: number;
  evalPairs: number;
}

async function fileSha256(file: string): Promise<string | undefined> {
  if (!statSync(file, { throwIfNoEntry: false })?.isFile()) return undefined;
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function dataIdentity(dataFile: string, train: readonly { id: string }[], held: readonly { id: string }[]): Promise<DataIdentity> {
  const ids = createHash('sha256')
    .update(train.map((e) => e.id).join('\n'))
    .update('\n--\n')
    .update(held.map((e) => e.id).join('\n'))
    .digest('hex');
  const file = await fileSha256(dataFile);
  return { pairIds: ids, ...(file ? { file } : {}), trainPairs: train.length, evalPairs: held.length };
}

/** Why `now` is not the data `saved` recorded, or undefined when it is the same. */
export function dataIdentityChange(saved: DataIdentity, now: DataIdentity): string | undefined {
  if (saved.pairIds !== now.pairIds) {
    return `its pairs differ (recorded: ${saved.trainPairs} training + ${saved.evalPairs} held-out pairs; now ${now.trainPairs} + ${now.evalPairs}, or the same count with other ids)`;
  }
  if (saved.file !== undefined && now.file !== undefined && saved.file !== now.file)
    return `its bytes differ (sha256 ${saved.file.slice(0, 12)}… recorded, ${now.file.slice(0, 12)}… now)`;
  return undefined;
}
