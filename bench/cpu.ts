// CPU time from /proc (Linux): a whole process (every thread) and its main thread alone, the one that runs the event loop.
import { readFileSync } from 'node:fs'

// USER_HZ, the unit of /proc's CPU times: 100 on every Linux architecture Node runs on.
const CLOCK_TICKS_PER_SECOND = 100

/** CPU time in microseconds, user and system. */
export interface CpuTimes { all: number, loop: number }

/** utime and stime in microseconds: the 14th and 15th fields of the line, the 12th and 13th after "pid (comm) ". */
function userAndSystem (statPath: string): { user: number, system: number } {
  const fields = readFileSync(statPath, 'utf8').replace(/^.*\) /s, '').split(' ')
  return { user: Number(fields[11]) * (1_000_000 / CLOCK_TICKS_PER_SECOND), system: Number(fields[12]) * (1_000_000 / CLOCK_TICKS_PER_SECOND) }
}

function micros (statPath: string): number {
  const { user, system } = userAndSystem(statPath)
  return user + system
}

/** The system (kernel) part of the main thread's CPU time, in microseconds: its system calls, socket writes among them. */
export function loopSystemMicros (pid: number): number {
  return userAndSystem(`/proc/${pid}/task/${pid}/stat`).system
}

export function cpuTimes (pid: number): CpuTimes {
  return { all: micros(`/proc/${pid}/stat`), loop: micros(`/proc/${pid}/task/${pid}/stat`) }
}

/** The CPU time a process has used since `before`, per operation. */
export function cpuPer (pid: number, before: CpuTimes, operations: number): CpuTimes {
  const now = cpuTimes(pid)
  const count = Math.max(1, operations)
  return { all: (now.all - before.all) / count, loop: (now.loop - before.loop) / count }
}

/** The whole machine's CPU time since boot, in microseconds: busy (every process, the kernel's threads and interrupts) and idle. */
export interface MachineTimes { busy: number, idle: number }

/** /proc/stat's first line: user nice system idle iowait irq softirq steal ... (guest time is in user already). */
export function machineTimes (): MachineTimes {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? ''
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number)
  const us = 1_000_000 / CLOCK_TICKS_PER_SECOND
  return { busy: (user + nice + system + irq + softirq + steal) * us, idle: (idle + iowait) * us }
}

/** The machine's busy CPU per operation since `before`, and the share of its CPU time that was idle. */
export function machinePer (before: MachineTimes, operations: number): { busy: number, idleShare: number } {
  const now = machineTimes()
  const [busy, idle] = [now.busy - before.busy, now.idle - before.idle]
  return { busy: busy / Math.max(1, operations), idleShare: idle / Math.max(1, busy + idle) }
}
