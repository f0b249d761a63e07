import { fromBase64, randomBytes, toBase64Padded as base64 } from './random'

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): a `whsec_` secret is base64 of
 * random bytes; `webhook-signature` is `v1,<base64 HMAC-SHA256(secret bytes, "id.timestamp.body")>`,
 * several space-separated during a secret rotation.
 */
export const SECRET_PREFIX = 'whsec_'

export function generateWebhookSecret(): string {
  return `${SECRET_PREFIX}${base64(randomBytes(24))}`
}

function secretBytes(secret: string): Uint8Array<ArrayBuffer> {
  return fromBase64(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret)
}

export async function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', secretBytes(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${id}.${timestampSeconds}.${body}`))
  return `v1,${base64(new Uint8Array(mac))}`
}

/** The three Standard Webhooks headers, signed with every given secret (current first). */
export async function webhookHeaders(secrets: string[], id: string, timestampSeconds: number, body: string) {
  const signatures = await Promise.all(secrets.map(s => signWebhook(s, id, timestampSeconds, body)))
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': signatures.join(' '),
  }
}
