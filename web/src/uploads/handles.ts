/**
 * File handles (File System Access API) of the files this browser uploads, so a reload can read
 * a file again without asking the person to pick it. Chromium-based browsers give a handle for
 * a dropped file (DataTransferItem.getAsFileSystemHandle) and for files chosen with
 * showOpenFilePicker; a handle can be kept in IndexedDB (structured clone), a File cannot be
 * read again after a reload. Elsewhere nothing is kept and each interrupted row asks for its file.
 *
 * Kept under the upload's video id until the upload ends; stale ones are pruned at start-up.
 */

/** The parts of the File System Access API used here (not in every TypeScript DOM lib). */
export interface FileHandle {
  readonly kind: 'file' | 'directory';
  readonly name: string;
  getFile(): Promise<File>;
  queryPermission?(d: { mode: 'read' }): Promise<PermissionState>;
  requestPermission?(d: { mode: 'read' }): Promise<PermissionState>;
}

type HandleItem = DataTransferItem & { getAsFileSystemHandle?: () => Promise<FileHandle | null> };
type PickerWindow = Window & {
  showOpenFilePicker?: (o: {
    multiple?: boolean;
    types?: Array<{ description: string; accept: Record<string, string[]> }>;
  }) => Promise<FileHandle[]>;
};

const byFile = new WeakMap<File, FileHandle>();

/** The handle a File was read from, when it came from one. */
export const handleOf = (file: File): FileHandle | undefined => byFile.get(file);

/**
 * The files of a drop, read through their handles where the browser gives them (so each can be
 * read again after a reload). Must be called during the drop event: its items go away after it.
 */
export function filesOfDrop(dt: DataTransfer): Promise<File[]> {
  const plain = [...dt.files];
  const items = [...dt.items].filter((i) => i.kind === 'file') as HandleItem[];
  if (items.length !== plain.length || !items.every((i) => typeof i.getAsFileSystemHandle === 'function')) {
    return Promise.resolve(plain);
  }
  const pending = items.map((i) => i.getAsFileSystemHandle!().catch(() => null));
  return Promise.all(
    pending.map(async (p, n) => {
      const h = await p;
      // A dropped folder has a directory handle: it stays the plain entry the checks refuse.
      if (h?.kind !== 'file') return plain[n]!;
      const file = await h.getFile().catch(() => null);
      if (!file) return plain[n]!;
      byFile.set(file, h);
      return file;
    }),
  );
}

/** showOpenFilePicker where the browser has it (files come with handles); null elsewhere. */
export async function pickWithHandles(extensions: string[]): Promise<File[] | null> {
  const picker = (window as PickerWindow).showOpenFilePicker;
  if (!picker) return null;
  let handles: FileHandle[];
  try {
    handles = await picker({
      multiple: true,
      types: [{ description: 'Videos', accept: { 'video/*': extensions.map((e) => `.${e}`) } }],
    });
  } catch (err) {
    // The person closed the picker: nothing to add. Anything else: fall back to the input.
    return (err as { name?: string }).name === 'AbortError' ? [] : null;
  }
  return Promise.all(
    handles.map(async (h) => {
      const file = await h.getFile();
      byFile.set(file, h);
      return file;
    }),
  );
}

const DB = 'clipdock-file-handles';
const STORE = 'handles';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run<T>(mode: IDBTransactionMode, op: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const req = op(db.transaction(STORE, mode).objectStore(STORE));
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  } finally {
    db.close();
  }
}

export const handleStore = {
  save: (videoId: string, h: FileHandle) => run('readwrite', (s) => s.put(h, videoId)).catch(() => {}),
  load: (videoId: string) =>
    run<FileHandle | undefined>('readonly', (s) => s.get(videoId)).catch(() => undefined),
  forget: (videoId: string) => run('readwrite', (s) => s.delete(videoId)).catch(() => {}),
  /** Video ids with a kept handle (keys only: no handle is deserialised). */
  ids: () =>
    run('readonly', (s) => s.getAllKeys())
      .then((keys) => keys.map(String))
      .catch(() => [] as string[]),
  /** Drops the handles of uploads that are no longer unfinished. */
  async prune(keep: Set<string>): Promise<void> {
    for (const id of await handleStore.ids()) if (!keep.has(id)) await handleStore.forget(id);
  },
};

/**
 * The file behind a kept handle, if the browser lets this page read it: without asking when
 * read permission is still granted (Chromium keeps it while a tab of the origin stays open, and
 * longer where the person allowed it); with `ask` (only from a click: it may show a prompt), after
 * asking. Null when it cannot be read (moved, deleted, permission refused).
 */
export async function fileFromHandle(h: FileHandle, ask: boolean): Promise<File | null> {
  try {
    let state: PermissionState = (await h.queryPermission?.({ mode: 'read' })) ?? 'granted';
    if (state === 'prompt' && ask) state = (await h.requestPermission?.({ mode: 'read' })) ?? 'denied';
    if (state !== 'granted') return null;
    return await h.getFile();
  } catch {
    return null;
  }
}
