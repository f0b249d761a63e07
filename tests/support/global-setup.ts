import { ensureBuild } from '../../scripts/lib/build'
import { ROOT } from './worker'

/** Integration and e2e tests drive the built worker: build it first when sources changed. */
export default function setup() {
  ensureBuild(ROOT, msg => console.log(`[global-setup] ${msg}`))
}
