// Snapshots as a lineage tree: each child under its parent, depth-first, newest roots first.

/** What the tree needs of a snapshot. */
export interface LineageNode {
  id: string;
  /** The parent snapshot, when known; null for a root. */
  parentId: string | null;
  /** ms since epoch, for ordering. */
  startTime: number;
}

/** A node placed in the tree. */
export type Placed<T extends LineageNode> = T & { depth: number; childCount: number; parentMissing: boolean };

/** Orders nodes depth-first (parents before children, siblings oldest first, roots newest first) with their depth. */
export function lineageTree<T extends LineageNode>(nodes: T[]): Placed<T>[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const children = new Map<string, T[]>();
  const roots: T[] = [];
  for (const n of nodes) {
    if (n.parentId && byId.has(n.parentId) && n.parentId !== n.id) {
      const list = children.get(n.parentId) ?? [];
      list.push(n);
      children.set(n.parentId, list);
    } else roots.push(n);
  }
  roots.sort((a, b) => b.startTime - a.startTime);
  for (const list of children.values()) list.sort((a, b) => a.startTime - b.startTime);
  const out: Placed<T>[] = [];
  const seen = new Set<string>();
  const visit = (n: T, depth: number): void => {
    if (seen.has(n.id)) return;
    seen.add(n.id);
    const kids = children.get(n.id) ?? [];
    out.push({ ...n, depth, childCount: kids.length, parentMissing: !!n.parentId && !byId.has(n.parentId) });
    for (const k of kids) visit(k, depth + 1);
  };
  for (const r of roots) visit(r, 0);
  // A cycle (never from the service, but data can be damaged) would leave nodes unvisited: list them as roots.
  for (const n of nodes) if (!seen.has(n.id)) visit(n, 0);
  return out;
}
