// Waiting in tests: a pause, and polling for a condition with a deadline that names what did not happen.

export const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Waits until `condition` holds, checking every `everyMs`; fails naming `what` after `timeoutMs`. */
export async function until (condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await sleep(everyMs)
  }
}
