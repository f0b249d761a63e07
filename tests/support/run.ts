import { spawn, type SpawnOptions } from 'node:child_process'

/**
 * Run a command and collect its output without blocking this process. Test servers started by
 * tests/support/worker.ts answer from this very process (Miniflare, which drives workerd, runs in it), so a
 * child that calls them must not be run with spawnSync: the server could not answer until it ended.
 */
export function run(cmd: string, args: string[], opts: SpawnOptions & { timeout?: number } = {}): Promise<{ stdout: string, stderr: string, status: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const timer = opts.timeout ? setTimeout(() => child.kill('SIGKILL'), opts.timeout) : undefined
    child.on('error', reject)
    child.on('close', (status) => {
      clearTimeout(timer)
      resolve({ stdout, stderr, status })
    })
  })
}
