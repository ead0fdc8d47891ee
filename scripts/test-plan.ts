// Which test files of a run go side by side, which start first and which run alone (scripts/run-tests.ts runs the plan).
import fs from 'node:fs'
import { sep } from 'node:path'

export const ALL = 'test/**/*.test.ts'

/**
 * Files that take far longer than any other, mostly waiting on held requests: they start at once, beside the others,
 * rather than where the alphabet puts them (tap's order), near the end of the run.
 */
const FIRST = ['test/security/hostile-input.test.ts']

/**
 * Files that load the machine themselves and time what they see (several instances under concurrent load, a thousand
 * held requests answered within the shutdown timeout), or hold a PostgreSQL transaction open on purpose (event-order:
 * the event feed's horizon is the cluster's, so it would hold back every other file's feed), or time a failover
 * (webhooks-crash: another instance delivers within 10 s of the first one's death): they run alone, once the other
 * files of every store are done.
 */
const ALONE = [
  'test/concurrency/multi-instance.test.ts', 'test/concurrency/waiting.test.ts', 'test/concurrency/event-order.test.ts',
  'test/reliability/webhooks-crash.test.ts'
]

export type Kind = 'together' | 'first' | 'alone'

/** One tap run of one store: its files and how many of them run at once. */
export interface Group { kind: Kind, files: string[], jobs: number }

/** The groups of a run of `args` (the whole suite unless files are named): `jobs` files at once in the main group. */
export function planOf (args: string[], jobs: number): Group[] {
  // fs.globSync is Node 22's; .ci/run runs named files only on the Node 20 it still tries.
  const globSync = fs.globSync as typeof fs.globSync | undefined
  const files = args.length === 1 && args[0] === ALL && globSync !== undefined
    ? globSync(ALL).map((file) => file.split(sep).join('/')).sort()
    : args
  const first = files.filter((file) => FIRST.includes(file))
  const alone = files.filter((file) => ALONE.includes(file))
  const together = files.filter((file) => !first.includes(file) && !alone.includes(file))
  const plan: Group[] = [{ kind: 'together', files: together, jobs }, { kind: 'first', files: first, jobs: 1 }, { kind: 'alone', files: alone, jobs: 1 }]
  return plan.filter((group) => group.files.length > 0)
}
