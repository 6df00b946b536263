/** Folds s16le mono samples into `count` peaks (max |sample| per bucket, 0..1). */
export class PeakFolder {
  readonly peaks: number[] = [];
  private readonly perPeak: number;
  private current = 0;
  private inBucket = 0;
  private carry: Buffer | undefined;

  constructor(totalSamples: number, count: number) {
    this.perPeak = Math.max(1, Math.ceil(totalSamples / count));
  }

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.carry) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = undefined;
    }
    const whole = buf.length - (buf.length % 2);
    for (let i = 0; i < whole; i += 2) {
      const v = Math.abs(buf.readInt16LE(i));
      if (v > this.current) this.current = v;
      if (++this.inBucket === this.perPeak) this.flush();
    }
    if (whole < buf.length) this.carry = buf.subarray(whole);
  }

  end(): number[] {
    if (this.inBucket > 0) this.flush();
    return this.peaks;
  }

  private flush(): void {
    this.peaks.push(Math.round((this.current / 32768) * 1000) / 1000);
    this.current = 0;
    this.inBucket = 0;
  }
}
