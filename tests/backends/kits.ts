/// <reference types="vite/client" />
/**
 * Every backend's test kit (tests/backends/kit.ts), found by file name: tests/backends/NAME.kit.ts.
 * The law suites iterate `kits`; a backend in src/backends/index.ts without a kit, or a kit of no
 * backend, fails at load with a line naming it.
 *
 *   kits.docker.decode(step, { host, launch })   // { user: 'node', home: '/home/node', env: [['CI','1']], … }
 *   fitFor('bwrap', scenario)                    // the scenario with a rootfs directory as image
 */
import { backends } from '../../src/backends/index.js'
import type { BackendName } from '../../src/plan/types.js'
import type { Scenario } from '../arbitraries.js'
import type { BackendKit } from './kit.js'

const found = import.meta.glob<{ kit: BackendKit }>('./*.kit.ts', { eager: true })

const byName = new Map<string, { file: string; kit: BackendKit }>()
for (const [file, { kit }] of Object.entries(found)) {
  const name = kit.backend.name
  if (!Object.hasOwn(backends, name) || backends[name] !== kit.backend) throw new Error(`${file} is the kit of a backend that is not in src/backends/index.ts`)
  const other = byName.get(name)
  if (other !== undefined) throw new Error(`${file} and ${other.file} are both kits of ${name}`)
  byName.set(name, { file, kit })
}

/** Every backend's kit, by name. */
export const kits: Readonly<Record<BackendName, BackendKit>> = Object.fromEntries(
  Object.values(backends).map((b) => {
    const k = byName.get(b.name)
    if (k === undefined) throw new Error(`the backend ${b.name} has no test kit: add tests/backends/${b.name}.kit.ts (see README, "Adding a backend")`)
    return [b.name, k.kit]
  }),
) as Record<BackendName, BackendKit>

/** The kits in the index's order, for describe.each. */
export const allKits: readonly BackendKit[] = Object.values(backends).map((b) => kits[b.name])

/** The scenario as this backend takes it (BackendKit.fit). */
export const fitFor = (backend: BackendName, s: Scenario): Scenario => kits[backend].fit(s)
