/**
 * CPU time of a process tree from the OS accounting (/proc/<pid>/stat utime + stime, in clock ticks),
 * so a scenario's CPU can be divided by the requests it completed.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

let ticks: number | undefined
/** Clock ticks per second (getconf CLK_TCK; 100 on Linux). */
export function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    }
    catch {
      ticks = 100
    }
  }
  return ticks
}

interface Stat { pid: number, ppid: number, cpuTicks: number, comm: string }

function readStat(pid: number): Stat | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // comm may contain spaces and parentheses: fields start after the last ')'.
    const close = s.lastIndexOf(')')
    const fields = s.slice(close + 2).split(' ')
    // fields[0] = state (field 3); ppid is field 4, utime 14, stime 15.
    return { pid, ppid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]), comm: s.slice(s.indexOf('(') + 1, close) }
  }
  catch {
    return null
  }
}

/** The live processes of the tree rooted at `root` (root included). */
export function processTree(root: number): Stat[] {
  const all: Stat[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const st = readStat(Number(name))
    if (st) all.push(st)
  }
  const children = new Map<number, Stat[]>()
  for (const st of all) children.set(st.ppid, [...(children.get(st.ppid) ?? []), st])
  const out: Stat[] = []
  const rootStat = all.find(s => s.pid === root)
  if (!rootStat) return out
  const queue = [rootStat]
  while (queue.length) {
    const st = queue.shift()!
    out.push(st)
    queue.push(...(children.get(st.pid) ?? []))
  }
  return out
}

/** CPU milliseconds (user + system) used so far by the live processes of the tree rooted at `root`. */
export function treeCpuMs(root: number): number {
  return processTree(root).reduce((n, s) => n + s.cpuTicks, 0) * 1000 / clockTicks()
}
