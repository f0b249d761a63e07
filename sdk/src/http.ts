/** One JSON POST/GET with a timeout per attempt and retries with exponential back-off and jitter. */
export interface HttpOptions {
  fetch: typeof fetch
  timeoutMs: number
  retries: number
  retryDelayMs: number
}

/** The server answered (any status) with this JSON body. */
export interface HttpAnswer { status: number, body: unknown, retryAfter: number | null }

/** No usable answer: network error, timeout, a non-JSON body, or 429/5xx after the last retry. */
export class Unreachable extends Error {
  constructor(message: string, readonly lastStatus: number | null, readonly retryAfter: number | null = null) {
    super(message)
    this.name = 'Unreachable'
  }
}

const RETRIABLE = new Set([429, 500, 502, 503, 504])
const MAX_DELAY_MS = 10_000
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

async function once(url: string, init: RequestInit, o: HttpOptions): Promise<HttpAnswer> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), o.timeoutMs)
  try {
    const res = await o.fetch(url, { ...init, signal: controller.signal })
    const text = await res.text()
    let body: unknown
    try {
      body = JSON.parse(text)
    }
    catch {
      // A captive portal or a proxy's error page: not an answer from the server.
      throw new Unreachable(`not a JSON answer (HTTP ${res.status})`, res.status)
    }
    const raw = res.headers.get('retry-after')
    const ra = raw === null ? Number.NaN : Number(raw)
    return { status: res.status, body, retryAfter: Number.isFinite(ra) && ra >= 0 ? ra : null }
  }
  catch (error) {
    if (error instanceof Unreachable) throw error
    throw new Unreachable(controller.signal.aborted ? `no answer within ${o.timeoutMs} ms` : `network error (${(error as Error).message})`, null)
  }
  finally {
    clearTimeout(timer)
  }
}

/** `makeInit` is called per attempt (a fresh nonce each time). */
export async function request(url: string, makeInit: () => RequestInit, o: HttpOptions): Promise<HttpAnswer> {
  let last: Unreachable = new Unreachable('no attempt made', null)
  for (let attempt = 0; attempt <= o.retries; attempt++) {
    if (attempt > 0) {
      let delay = o.retryDelayMs * 2 ** (attempt - 1)
      if (last.retryAfter !== null) delay = Math.max(delay, last.retryAfter * 1000)
      if (delay > MAX_DELAY_MS) break
      await sleep(delay * (0.8 + Math.random() * 0.4))
    }
    try {
      const answer = await once(url, makeInit(), o)
      if (!RETRIABLE.has(answer.status)) return answer
      last = new Unreachable(`HTTP ${answer.status}`, answer.status, answer.retryAfter)
    }
    catch (error) {
      last = error as Unreachable
    }
  }
  throw last
}
