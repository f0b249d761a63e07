/**
 * Plain-language names and icons of the log's event types and outcomes (the web app's log, the
 * license page's history; docs/ui.md). Unknown types still read well: "token.created" → "Token created".
 */
import { groupOfType, type LogGroup } from './schemas/log'

interface EventName { label: string, icon: string, failureLabel?: string }

const NAMES: Record<string, EventName> = {
  'auth.login.succeeded': { label: 'Signed in', icon: 'i-lucide-log-in' },
  'auth.login.failed': { label: 'Sign-in failed', icon: 'i-lucide-shield-x' },
  'auth.login.throttled': { label: 'Sign-in throttled', icon: 'i-lucide-shield-alert' },
  'auth.logout': { label: 'Signed out', icon: 'i-lucide-log-out' },
  'session.ended': { label: 'Session ended', icon: 'i-lucide-log-out' },
  'license.created': { label: 'License created', icon: 'i-lucide-key-round' },
  'license.updated': { label: 'License edited', icon: 'i-lucide-pencil' },
  'license.suspended': { label: 'License suspended', icon: 'i-lucide-pause' },
  'license.reinstated': { label: 'License reinstated', icon: 'i-lucide-play' },
  'license.renewed': { label: 'License renewed', icon: 'i-lucide-calendar-plus' },
  'license.expiring': { label: 'License expiring soon', icon: 'i-lucide-calendar-clock' },
  'license.expired': { label: 'License expired', icon: 'i-lucide-calendar-x' },
  'license.deleted': { label: 'License deleted', icon: 'i-lucide-trash-2' },
  'license.key_revealed': { label: 'Key revealed', icon: 'i-lucide-eye' },
  'license.keys_rotated': { label: 'Key encryption rotated', icon: 'i-lucide-refresh-cw' },
  'license.validated': { label: 'License validated', icon: 'i-lucide-shield-check' },
  'validation.verify': { label: 'Key verified', failureLabel: 'Verify refused', icon: 'i-lucide-shield-check' },
  'validation.activate': { label: 'Activation', failureLabel: 'Activation refused', icon: 'i-lucide-monitor-check' },
  'validation.deactivate': { label: 'Deactivation', failureLabel: 'Deactivation refused', icon: 'i-lucide-monitor-x' },
  'validation.ip_blocked': { label: 'IP blocked (too many unknown keys)', icon: 'i-lucide-shield-ban' },
  'validation.rate_limited': { label: 'Rate limited', icon: 'i-lucide-gauge' },
  'device.activated': { label: 'Device activated', icon: 'i-lucide-monitor-check' },
  'device.deactivated': { label: 'Device deactivated', icon: 'i-lucide-monitor-x' },
  'device.freed': { label: 'Device freed', icon: 'i-lucide-monitor-off' },
  'product.created': { label: 'Product created', icon: 'i-lucide-package-plus' },
  'product.updated': { label: 'Product edited', icon: 'i-lucide-package' },
  'product.deleted': { label: 'Product deleted', icon: 'i-lucide-package-x' },
  'webhook.created': { label: 'Webhook endpoint added', icon: 'i-lucide-webhook' },
  'webhook.updated': { label: 'Webhook endpoint edited', icon: 'i-lucide-webhook' },
  'webhook.deleted': { label: 'Webhook endpoint deleted', icon: 'i-lucide-trash-2' },
  'webhook.secret_revealed': { label: 'Webhook secret revealed', icon: 'i-lucide-eye' },
  'webhook.secret_rotated': { label: 'Webhook secret rotated', icon: 'i-lucide-refresh-cw' },
  'webhook.test': { label: 'Webhook test event', icon: 'i-lucide-send' },
  'api_token.created': { label: 'API token created', icon: 'i-lucide-key-square' },
  'api_token.revoked': { label: 'API token revoked', icon: 'i-lucide-ban' },
  'user.created': { label: 'User added', icon: 'i-lucide-user-plus' },
  'user.updated': { label: 'User edited', icon: 'i-lucide-user-cog' },
  'user.disabled': { label: 'User disabled', icon: 'i-lucide-user-x' },
  'user.enabled': { label: 'User enabled', icon: 'i-lucide-user-check' },
  'user.password_changed': { label: 'Password changed', failureLabel: 'Password change refused', icon: 'i-lucide-lock-keyhole' },
}

const GROUP_ICONS: Record<LogGroup, string> = {
  auth: 'i-lucide-log-in',
  licenses: 'i-lucide-key-round',
  validations: 'i-lucide-shield-check',
  devices: 'i-lucide-monitor',
  products: 'i-lucide-package',
  webhooks: 'i-lucide-webhook',
  tokens: 'i-lucide-key-square',
  admin: 'i-lucide-users',
}

/** "token.secret_rotated" → "Token secret rotated" */
function humanize(type: string): string {
  const words = type.replace(/[._]/g, ' ').trim()
  return words.charAt(0).toUpperCase() + words.slice(1)
}

/** What happened, for people: label and icon of an event (its outcome picks the failure wording). */
export function eventName(type: string, outcome?: string): { label: string, icon: string } {
  const n = NAMES[type]
  // "failure", or a refusing validation code (NOT_FOUND, SUSPENDED…).
  const failed = outcome !== undefined && outcomeColor(outcome) !== 'success'
  if (n) return { label: failed && n.failureLabel ? n.failureLabel : n.label, icon: n.icon }
  const group = groupOfType(type)
  return { label: humanize(type), icon: group ? GROUP_ICONS[group] : 'i-lucide-circle-dot' }
}

const OUTCOMES: Record<string, string> = {
  success: 'Succeeded',
  failure: 'Failed',
  VALID: 'Valid',
  NOT_FOUND: 'Unknown key',
  PRODUCT_MISMATCH: 'Other product',
  SUSPENDED: 'Suspended',
  EXPIRED: 'Expired',
  DEVICE_NOT_ACTIVATED: 'Device not activated',
  ACTIVATED: 'Activated',
  ALREADY_ACTIVATED: 'Already activated',
  DEVICE_LIMIT_REACHED: 'Device limit reached',
  DEACTIVATED: 'Deactivated',
  RATE_LIMITED: 'Rate limited',
  BLOCKED: 'Blocked',
}
export const OUTCOME_CODES = Object.keys(OUTCOMES)

/** An outcome for people ("NOT_FOUND" → "Unknown key"); the code itself stays in the detail drawer. */
export function outcomeLabel(outcome: string): string {
  return OUTCOMES[outcome] ?? humanize(outcome.toLowerCase())
}

export function outcomeColor(outcome: string): 'success' | 'error' | 'warning' {
  if (['success', 'VALID', 'ACTIVATED', 'ALREADY_ACTIVATED', 'DEACTIVATED', 'ALIVE'].includes(outcome)) return 'success'
  if (['failure', 'NOT_FOUND', 'RATE_LIMITED', 'BLOCKED', 'PRODUCT_MISMATCH'].includes(outcome)) return 'error'
  return 'warning'
}
