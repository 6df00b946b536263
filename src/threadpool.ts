/**
 * libuv's thread pool size for `npm start`: imported first by src/main.ts, so it runs before any
 * other module and before the pool exists (libuv creates it on first use and reads
 * UV_THREADPOOL_SIZE then). An operator's own UV_THREADPOOL_SIZE wins.
 *
 * Every file-system call runs on this pool, and an upload on local disk keeps one busy with a
 * write of up to 1 MiB at a time, which the kernel may hold for a while when the page cache has
 * many dirty pages (several concurrent 1 GiB uploads). With libuv's default of 4, eight
 * concurrent uploads queue their writes, and every PATCH's `stat`, `open` and `close` wait
 * behind them, so sockets sit idle (bench/RESULTS.md, issue 13). The threads are cheap: they
 * only wait for the kernel.
 */
export const DEFAULT_THREADPOOL_SIZE = 16;

process.env.UV_THREADPOOL_SIZE ??= String(DEFAULT_THREADPOOL_SIZE);
