// Self time in a V8 .cpuprofile (node --cpu-prof) by function and by package, as Markdown; `npx tsx bench/profile.ts <file> [<checkout>]` prints it.
import { readFileSync } from 'node:fs'
import { relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, hitCount?: number }
interface CpuProfile { nodes: ProfileNode[], startTime: number, endTime: number, samples?: number[], timeDeltas?: number[] }

export interface Share { samples: number, ms: number }
export interface Entry extends Share { name: string, where: string, group: string }
export interface Analysis { file: string, windowed: boolean, samples: number, ms: number, top: Entry[], groups: Array<Share & { group: string }> }

/** Where a script is: relative to its node_modules or to the checkout, node:'s own as they are. */
function place (url: string, root: string): { path: string, group: string } {
  if (url.startsWith('node:')) return { path: url, group: 'node: internals' }
  let path = url
  try { if (url.startsWith('file:')) path = fileURLToPath(url) } catch { /* not a file URL: as it is */ }
  const modules = path.lastIndexOf('/node_modules/')
  if (modules >= 0) {
    path = path.slice(modules + '/node_modules/'.length)
    const [scope = '', name = ''] = path.split('/')
    return { path, group: `node_modules/${scope.startsWith('@') ? `${scope}/${name}` : scope}` }
  }
  const inRepo = relative(root, path)
  if (path.startsWith('/') && !inRepo.startsWith('..')) {
    // The service runs from dist/: its src/store/x.js is src/store/x.ts compiled.
    const parts = inRepo.replace(/^dist\//, '').split('/')
    const group = parts.length > 2 ? `${parts[0] ?? ''}/${parts[1] ?? ''}` : parts.length === 2 ? (parts[0] ?? '') : '(the checkout\'s top level)'
    return { path: inRepo, group }
  }
  return { path, group: 'other' }
}

/** The group of a frame without a script: V8's pseudo-frames by their own name, the rest is native code. */
function frameGroup (frame: CallFrame, root: string): { where: string, group: string } {
  if (frame.url === '') return { where: '-', group: frame.functionName.startsWith('(') ? frame.functionName : '(native code)' }
  const { path, group } = place(frame.url, root)
  return { where: `${path}:${frame.lineNumber + 1}`, group }
}

/** `window`: only the samples taken within it (µs of the monotonic clock, as process.hrtime and the profile read it). */
export function analyse (file: string, root: string, window?: { from: number, to: number }): Analysis {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const self = new Map<number, Share>()
  const add = (id: number, samples: number, ms: number) => {
    const share = self.get(id) ?? { samples: 0, ms: 0 }
    share.samples += samples
    share.ms += ms
    self.set(id, share)
  }
  let windowed = false
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  if (samples.length > 0) {
    // timeDeltas[i] is the time before sample i: the time until the next sample is spent where sample i was taken.
    let at = profile.startTime
    const times = samples.map((_, i) => (at += deltas[i] ?? 0))
    const inWindow = (time: number) => window === undefined || (time >= window.from && time <= window.to)
    // A window that misses the profile altogether (another clock): all of it rather than nothing.
    windowed = window !== undefined && times.some(inWindow)
    samples.forEach((id, i) => { if (!windowed || inWindow(times[i] ?? 0)) add(id, 1, (deltas[i + 1] ?? 0) / 1000) })
  } else {
    const hits = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0)
    const msPerHit = hits === 0 ? 0 : (profile.endTime - profile.startTime) / 1000 / hits
    for (const node of profile.nodes) if ((node.hitCount ?? 0) > 0) add(node.id, node.hitCount ?? 0, (node.hitCount ?? 0) * msPerHit)
  }

  // A function appears once per call path in the tree: summed over them.
  const functions = new Map<string, Entry>()
  const groups = new Map<string, Share & { group: string }>()
  for (const [id, share] of self) {
    const frame = byId.get(id)?.callFrame ?? { functionName: '(unknown)', url: '', lineNumber: -1 }
    const { where, group } = frameGroup(frame, root)
    const key = `${frame.functionName}\n${frame.url}\n${frame.lineNumber}`
    const entry = functions.get(key) ?? { name: frame.functionName === '' ? '(anonymous)' : frame.functionName, where, group, samples: 0, ms: 0 }
    entry.samples += share.samples
    entry.ms += share.ms
    functions.set(key, entry)
    const total = groups.get(group) ?? { group, samples: 0, ms: 0 }
    total.samples += share.samples
    total.ms += share.ms
    groups.set(group, total)
  }
  const bySamples = <T extends Share>(list: Iterable<T>) => [...list].sort((a, b) => b.samples - a.samples)
  const all = [...self.values()]
  return {
    file,
    windowed,
    samples: all.reduce((sum, share) => sum + share.samples, 0),
    ms: all.reduce((sum, share) => sum + share.ms, 0),
    top: bySamples(functions.values()).slice(0, 10),
    groups: bySamples(groups.values())
  }
}

const GROUP_ROWS = 14

/** Two tables: the top 10 functions by self time, and self time by package (the service's src/ by folder). */
export function profileMarkdown (analysis: Analysis): string {
  const pct = (share: Share) => `${(100 * share.samples / Math.max(1, analysis.samples)).toFixed(1)}`
  const cell = (text: string) => text.replace(/\|/g, '\\|')
  const lines = [
    '| self % | self ms | function | where |', '| ---: | ---: | --- | --- |',
    ...analysis.top.map((e) => `| ${pct(e)} | ${Math.round(e.ms)} | ${cell(e.name)} | ${cell(e.where)} |`),
    '', '| package or folder | self % | self ms |', '| --- | ---: | ---: |',
    ...analysis.groups.slice(0, GROUP_ROWS).map((g) => `| ${cell(g.group)} | ${pct(g)} | ${Math.round(g.ms)} |`)
  ]
  const rest = analysis.groups.slice(GROUP_ROWS)
  if (rest.length > 0) {
    const share = rest.reduce((sum, g) => ({ samples: sum.samples + g.samples, ms: sum.ms + g.ms }), { samples: 0, ms: 0 })
    lines.push(`| ${rest.length} others | ${pct(share)} | ${Math.round(share.ms)} |`)
  }
  return lines.join('\n')
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const [file, root = '.'] = process.argv.slice(2)
  if (file === undefined) throw new Error('usage: npx tsx bench/profile.ts <file.cpuprofile> [<checkout dir>]')
  process.stdout.write(profileMarkdown(analyse(file, resolve(root))) + '\n')
}
