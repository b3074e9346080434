// TFRecord framing, the container of TensorBoard event files: each record is
//   uint64 length (little-endian) · uint32 masked CRC-32C of those 8 bytes · data · uint32 masked CRC-32C of data
// (tensorflow/core/lib/io/record_writer.cc). CRC-32C is the Castagnoli polynomial (reflected 0x82F63B78);
// the mask rotates right by 15 bits and adds 0xa282ead8, as tensorflow/core/lib/hash/crc32c.h does.

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli) of `data`; crc32c("123456789") is 0xe3069283. */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c(data);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One framed record around `data`. */
export function tfRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(8 + 4 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}

/** The records of a TFRecord file; a torn last record (a kill mid-write) ends the list, a bad checksum throws. */
export function readTfRecords(bytes: Buffer, file = 'the file'): Buffer[] {
  const records: Buffer[] = [];
  let pos = 0;
  while (pos + 12 <= bytes.length) {
    const header = bytes.subarray(pos, pos + 8);
    if (bytes.readUInt32LE(pos + 8) !== maskedCrc32c(header)) throw new Error(`${file}: record at byte ${pos}: the length's CRC does not match`);
    const length = Number(bytes.readBigUInt64LE(pos));
    if (pos + 12 + length + 4 > bytes.length) break;
    const data = bytes.subarray(pos + 12, pos + 12 + length);
    if (bytes.readUInt32LE(pos + 12 + length) !== maskedCrc32c(data)) throw new Error(`${file}: record at byte ${pos}: the data's CRC does not match`);
    records.push(data);
    pos += 12 + length + 4;
  }
  return records;
}
