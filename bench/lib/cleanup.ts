/**
 * Everything a benchmark starts (servers, databases, temp dirs) registers its undo here, so
 * a failed run or Ctrl-C still leaves the machine as it was.
 */
type Undo = () => Promise<void> | void;

const undos = new Map<number, Undo>();
let next = 0;

/** Registers an undo; the returned function runs it once and forgets it. */
export function onCleanup(undo: Undo): () => Promise<void> {
  const key = next++;
  undos.set(key, undo);
  return async () => {
    if (!undos.delete(key)) return;
    await undo();
  };
}

/** Runs every registered undo, newest first; reports failures without stopping. */
export async function cleanupAll(): Promise<void> {
  const pending = [...undos.entries()].reverse();
  undos.clear();
  for (const [, undo] of pending) {
    try {
      await undo();
    } catch (error) {
      console.error(`cleanup failed: ${(error as Error).message}`);
    }
  }
}
