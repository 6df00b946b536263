import { describe, expect, it } from 'vitest';
import { HashGate } from '../../src/accounts/hash-gate.ts';
import { AppError } from '../../src/errors.ts';

/** Tasks the test finishes by hand, to watch the gate's bounds. */
function manualTask() {
  let finish!: () => void;
  let started = false;
  const done = new Promise<void>((r) => {
    finish = r;
  });
  return {
    run: async () => {
      started = true;
      await done;
    },
    finish,
    get started() {
      return started;
    },
  };
}

describe('HashGate', () => {
  it('runs at most `concurrency` at once, queues `maxQueued`, refuses the rest with 503 SERVER_BUSY and Retry-After', async () => {
    const gate = new HashGate(2, 3);
    const tasks = Array.from({ length: 5 }, manualTask);
    const runs = tasks.map((t) => gate.run(t.run));
    await Promise.resolve();
    expect(tasks.map((t) => t.started)).toEqual([true, true, false, false, false]);
    expect(gate.load).toEqual({ running: 2, waiting: 3 });

    const refused = await gate.run(async () => 'never').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).status).toBe(503);
    expect((refused as AppError).code).toBe('SERVER_BUSY');
    expect((refused as AppError).details?.retryAfterSeconds).toBeGreaterThan(0);

    // A task that may not be refused waits even when the queue is full.
    const patient = manualTask();
    const patientRun = gate.run(patient.run, { refusable: false });
    expect(gate.load).toEqual({ running: 2, waiting: 4 });

    tasks[0]!.finish();
    await runs[0];
    await new Promise((r) => setImmediate(r));
    expect(tasks[2]!.started).toBe(true);
    expect(gate.load).toEqual({ running: 2, waiting: 3 });

    for (const t of [...tasks, patient]) t.finish();
    await Promise.all([...runs, patientRun]);
    expect(patient.started).toBe(true);
    expect(gate.load).toEqual({ running: 0, waiting: 0 });
  });

  it('frees its slot when a task fails', async () => {
    const gate = new HashGate(1, 0);
    await expect(gate.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await gate.run(async () => 'ok')).toBe('ok');
    expect(gate.load).toEqual({ running: 0, waiting: 0 });
  });
});
