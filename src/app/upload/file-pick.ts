/** A file the person chose, with its File System Access handle when the browser gives one. */
export interface PickedFile {
  file: File;
  handle?: FileSystemFileHandle;
}

// File System Access members missing from TypeScript's DOM library (Chromium-only APIs).
interface PickerWindow {
  showOpenFilePicker?: (options?: { multiple?: boolean; excludeAcceptAllOption?: boolean }) => Promise<FileSystemFileHandle[]>;
}
interface HandleItem {
  getAsFileSystemHandle?: () => Promise<FileSystemHandle | null>;
}
interface PermissionHandle {
  queryPermission?: (d: { mode: 'read' | 'readwrite' }) => Promise<PermissionState>;
  requestPermission?: (d: { mode: 'read' | 'readwrite' }) => Promise<PermissionState>;
}

/** True where `showOpenFilePicker` exists (Chromium), so a handle can be kept for resume. */
export function hasFilePicker(): boolean {
  return typeof (globalThis as PickerWindow).showOpenFilePicker === 'function';
}

/** Opens the File System Access picker; null when the person closes it. */
export async function pickWithFilePicker(): Promise<PickedFile | null> {
  const show = (globalThis as PickerWindow).showOpenFilePicker;
  if (!show) return null;
  try {
    const [handle] = await show({ multiple: false });
    if (!handle) return null;
    return { file: await handle.getFile(), handle };
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') return null;
    throw e;
  }
}

/**
 * Takes the first file of a drop. Every item's handle and File are requested synchronously,
 * inside the handler: the DataTransfer is emptied as soon as the event returns.
 */
export function takeDrop(e: DragEvent): Promise<PickedFile | null> {
  const items = e.dataTransfer ? Array.from(e.dataTransfer.items).filter((i) => i.kind === 'file') : [];
  const handles = items.map((i) => (i as DataTransferItem & HandleItem).getAsFileSystemHandle?.() ?? Promise.resolve(null));
  const files = items.map((i) => i.getAsFile());
  if (!items.length) {
    const file = e.dataTransfer?.files[0];
    return Promise.resolve(file ? { file } : null);
  }
  return (async () => {
    const file = files[0];
    const handle = await handles[0].catch(() => null);
    if (handle && handle.kind === 'file') {
      const fh = handle as FileSystemFileHandle;
      return { file: file ?? (await fh.getFile()), handle: fh };
    }
    return file ? { file } : null;
  })();
}

/** Asks for read access to a stored handle; must run inside a click. True when granted. */
export async function ensureReadPermission(handle: FileSystemFileHandle): Promise<boolean> {
  const h = handle as FileSystemFileHandle & PermissionHandle;
  if (!h.queryPermission || !h.requestPermission) return true;
  if ((await h.queryPermission({ mode: 'read' })) === 'granted') return true;
  return (await h.requestPermission({ mode: 'read' })) === 'granted';
}
