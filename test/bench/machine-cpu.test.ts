// The machine's CPU per request (bench/cpu.ts's machineTimes, read off /proc/stat) and the table that sets it beside a
// comparison's measured ratio (bench/stores.ts's machineTable), used by --stores and --citus-url.
import t from 'tap'
import { machinePer, machineTimes } from '../../bench/cpu.js'
import type { Comparison } from '../../bench/compare.js'
import type { Run } from '../../bench/scenarios.js'
import { machineTable } from '../../bench/stores.js'

t.test('machineTimes counts the CPU this process spends, and the idle share stays a share', async (t) => {
  const before = machineTimes()
  const start = process.cpuUsage()
  const until = Date.now() + 300
  let spins = 0
  while (Date.now() < until) spins++
  const used = process.cpuUsage(start)
  const { busy, idleShare } = machinePer(before, 2)
  t.ok(spins > 0)
  // /proc/stat ticks at 10 ms: the machine's busy time covers this process's CPU but for a tick or two.
  t.ok(busy * 2 >= used.user + used.system - 20_000, `busy ${busy * 2} us over 2 operations covers this process's ${used.user + used.system} us`)
  t.ok(idleShare >= 0 && idleShare <= 1, `idle share ${idleShare}`)
})

t.test('machineTable: each side\'s machine CPU, the service\'s and the generator\'s part of it, the rest, and the ratio the cores allow', async (t) => {
  const run = (machineCpu: number, service: number, generator: number, idle: number): Run => ({
    requests: 1000, requestsPerSecond: 100, messagesPerSecond: 100, mean: 1, p50: 1, p99: 2, failures: 0,
    cpu: { all: service, loop: service }, generatorCpu: generator, machineCpu, machineIdle: idle
  })
  const side = (label: string, r: Run) => ({ label, run: r, runs: [r], loopDelayP99Ms: 0, statementsPerRequest: 1, roundTripsPerRequest: 1 })
  const results: Comparison[] = [{
    scenario: 'store', rows: 10000, ratio: 0.55, ratioMin: 0.5, ratioMax: 0.6, ratios: [0.55],
    sides: [side('plain', run(1000, 400, 100, 0.1)), side('citus', run(2000, 700, 150, 0.05))]
  }]
  const lines = machineTable(results, ['plain PostgreSQL', 'Citus']).split('\n')
  t.match(lines[0], /machine CPU us\/req, plain PostgreSQL \/ Citus/)
  t.equal(lines[2], '| store | 10000 | 1000 / 2000 | 400 / 700 | 100 / 150 | 500 / 1150 | 10% / 5% | 0.50 | 0.55 |')
})
