/** One closed set of service error codes; each door maps them to its own protocol. */
export type ServiceErrorCode = 'BAD_REQUEST' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND' | 'CONFLICT' | 'TOO_MANY_REQUESTS'

export class ServiceError extends Error {
  constructor(
    public readonly code: ServiceErrorCode,
    message: string,
    /** Field-level messages for forms: { fieldName: [message] }. */
    public readonly fieldErrors?: Record<string, string[]>,
    public readonly retryAfterSeconds?: number,
  ) {
    super(message)
    this.name = 'ServiceError'
  }
}

export const notFound = (what: string) => new ServiceError('NOT_FOUND', `${what} not found`)
