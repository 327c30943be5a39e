/** The real-engine suite (tests/engines/lifecycle.ts) on docker: see scripts/test-engines.sh. */
import { engineSuite } from './lifecycle.js'

engineSuite('docker')
