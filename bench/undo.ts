// What a benchmark run started or created (services, databases, directories), undone last first: at its end, on an error, or on SIGINT / SIGTERM.
const steps: Array<() => Promise<void>> = []

export function onUndo (step: () => Promise<void>): void { steps.push(step) }

export async function undoAll (): Promise<void> {
  for (let step = steps.pop(); step !== undefined; step = steps.pop()) {
    try { await step() } catch (error) { process.stderr.write(`cleaning up: ${String(error)}\n`) }
  }
}

export function undoOnSignals (): void {
  let undoing = false
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // Not once: a Ctrl-C reaches this process more than once (from the terminal, and relayed by npm and tsx).
    process.on(signal, () => {
      if (undoing) return
      undoing = true
      process.stderr.write(`${signal}: stopping the services and removing their databases\n`)
      void undoAll().finally(() => process.exit(130))
    })
  }
}
