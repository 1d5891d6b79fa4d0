/** One tab at a time drains the shared queue: the Web Locks API when the browser has it, a localStorage lease (lease-lock.ts) otherwise. */

import type { StorageArea } from './queue.js'

/** A lock shared by every tab of the origin. */
export interface TabLock {
  /** Runs `task` holding the lock and resolves `true`; resolves `false` at once when another tab holds it. */
  run(task: () => Promise<void>): Promise<boolean>
}

/**
 * A {@link TabLock} on the Web Locks API: the browser grants it to one tab at
 * a time and releases it when that tab's task settles or the tab goes away.
 *
 * @example
 * const lock = webLock(navigator.locks, 'analytics-webhooks.lock')
 * await lock.run(async () => drainQueue()) // false if another tab is draining
 */
export function webLock(locks: LockManager, name: string): TabLock {
  return {
    run: (task) =>
      locks.request(name, { ifAvailable: true }, (held) =>
        held ? task().then(() => true) : false,
      ) as Promise<boolean>,
  }
}

/**
 * The best lock this browser offers for `name`: Web Locks, or a lease in
 * `storage` (see lease-lock.ts), whose code only a browser without Web Locks
 * loads, with `import()` on its first run.
 *
 * @example
 * const lock = tabLock('analytics-webhooks.lock', localStorage)
 */
export function tabLock(name: string, storage: StorageArea): TabLock {
  const locks = globalThis.navigator?.locks
  if (locks) return webLock(locks, name)
  let lease: Promise<TabLock> | undefined
  return {
    run: async (task) => {
      lease ??= import('./lease-lock.js').then((m) => m.leaseLock(storage, name))
      return (await lease).run(task)
    },
  }
}
