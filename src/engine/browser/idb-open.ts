// One connection per IndexedDB database and context, opened at first use and reused; given up when another
// context needs to upgrade the schema (the next call opens it again).
import { openDB, type IDBPDatabase } from 'idb';

/** An opener of version-1 databases laid out by `upgrade`, keeping one connection per name. */
export function databaseOpener(upgrade: (d: IDBPDatabase) => void): (name: string) => Promise<IDBPDatabase> {
  const opened = new Map<string, Promise<IDBPDatabase>>();
  return (name) => {
    let p = opened.get(name);
    if (!p) {
      p = openDB(name, 1, {
        upgrade: (d) => upgrade(d),
        blocking() {
          // Another tab upgrades the schema: let it.
          void p?.then((x) => x.close());
          opened.delete(name);
        },
      });
      opened.set(name, p);
    }
    return p;
  };
}
