/** The real-engine suite (tests/engines/lifecycle.ts) on podman: see scripts/test-engines.sh. */
import { engineSuite } from './lifecycle.js'

engineSuite('podman')
