// What the process says when it cannot work with its configuration: one line that names the variable, no stack, exit 1.
import { ConfigError } from './config.js'
import { DatabaseUrlError } from './store/errors.js'

/** Runs a step of the process; a ConfigError or a DatabaseUrlError ends the process with its one line on stderr. */
export async function orRefuse<T> (refusing: string, step: () => T | Promise<T>): Promise<T> {
  try {
    return await step()
  } catch (error) {
    if (!(error instanceof ConfigError || error instanceof DatabaseUrlError)) throw error
    process.stderr.write(`offline-messages: ${refusing}: ${error.message}\n`)
    process.exit(1)
  }
}
