/** The egress door on the real docker engine (tests/engines/egress.ts): see scripts/test-engines.sh. */
import { egressSuite } from './egress.js'

egressSuite('docker')
