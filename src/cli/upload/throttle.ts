import { Transform, type TransformCallback } from 'node:stream';

/**
 * A pass-through that lets at most `bytesPerSecond` through (`--limit-rate`): to share a slow
 * line, and in tests to keep an upload running long enough to interrupt it.
 */
export class Throttle extends Transform {
  private readonly rate: number;
  private readonly started = Date.now();
  private passed = 0;

  constructor(bytesPerSecond: number) {
    super();
    this.rate = bytesPerSecond;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const piece = Math.max(1024, Math.floor(this.rate / 20));
    const pushFrom = (at: number) => {
      if (at >= chunk.length) return done();
      const part = chunk.subarray(at, at + piece);
      this.passed += part.length;
      this.push(part);
      const due = this.started + (this.passed / this.rate) * 1000;
      const wait = due - Date.now();
      if (wait > 0) setTimeout(() => pushFrom(at + part.length), wait);
      else pushFrom(at + part.length);
    };
    pushFrom(0);
  }
}
