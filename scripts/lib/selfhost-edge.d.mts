// Types of selfhost-edge.mjs (plain JavaScript: it runs inside workerd as it is).
export function plainAddress(clientIp: unknown): string
export function edgeHeaders(incoming: Headers, socketIp: string, trusted: string | null | undefined): { headers: Headers, proto: 'http' | 'https' }
export function encodingFor(acceptEncoding: string | null | undefined): 'br' | 'gzip' | null
export function compressible(method: string, res: Response): boolean
export const MIN_COMPRESS_BYTES: number
