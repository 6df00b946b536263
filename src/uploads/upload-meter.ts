import { Transform, type TransformCallback } from 'node:stream';
import { SNIFF_BYTES, type SniffVerdict, sniffVideo } from './sniff.ts';

export { SNIFF_BYTES };

/**
 * Sits between the request body and the store: counts bytes for progress and, at the start of a
 * file, holds bytes back until the sniffer has ruled, so a non-video never reaches the store.
 */
export class UploadMeter extends Transform {
  received = 0;
  tooLarge = false;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private readonly opts: {
    offset: number;
    size: number;
    maxBytes: number;
    sniff: { prefix: Buffer; target: number } | undefined;
    progress: (offset: number) => void;
  };
  accepted: SniffVerdict | undefined;
  rejected: SniffVerdict | undefined;

  constructor(opts: UploadMeter['opts']) {
    super();
    this.opts = opts;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.received += chunk.length;
    if (this.received > this.opts.maxBytes) {
      this.tooLarge = true;
      cb(new Error('request body larger than allowed'));
      return;
    }
    const sniff = this.opts.sniff;
    if (!sniff || this.accepted) {
      // Only bytes on their way to the store count as received; held bytes may be refused.
      this.opts.progress(this.opts.offset + this.received);
      cb(null, chunk);
      return;
    }
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (sniff.prefix.length + this.heldBytes < sniff.target) cb();
    else this.decide(true, cb);
  }

  override _flush(cb: TransformCallback): void {
    if (!this.opts.sniff || this.accepted) cb();
    else this.decide(this.opts.offset + this.received >= this.opts.size, cb);
  }

  /** `final`: no more bytes will come for the verdict (the window is full or the file complete). */
  private decide(final: boolean, cb: TransformCallback): void {
    const sniff = this.opts.sniff!;
    const head = Buffer.concat([sniff.prefix, ...this.held]).subarray(0, sniff.target);
    sniffVideo(head, final).then(
      (verdict) => {
        if (verdict.kind === 'not_video' || verdict.kind === 'ambiguous') {
          this.rejected = verdict;
          this.held = [];
          cb(new Error(`refused upload: ${verdict.kind}`));
          return;
        }
        if (verdict.kind === 'video') this.accepted = verdict;
        for (const b of this.held) this.push(b);
        this.held = [];
        this.heldBytes = 0;
        cb();
      },
      (err: unknown) => cb(err as Error),
    );
  }
}
